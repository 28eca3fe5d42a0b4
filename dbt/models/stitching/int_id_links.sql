{#- Every (anonymous_id, user_id) pair an identify event links, before any exclusion, as node
    keys (join int_id_nodes on node_key for the strings), so every later step is integer work. #}
with identifies as (

    select * from {{ ref('stg_rudderstack__identifies') }}

),

collisions as (

    select * from {{ ref('int_id_key_collisions') }}

),

{#- the few ids whose hash collided carry a dense key; every other key is the hash itself, so
    the events are keyed without joining the node table #}

rekeyed_anonymous_ids as (

    select
        other_id,
        node_key
    from collisions
    where other_id_type = 'anonymous_id'

),

rekeyed_user_ids as (

    select
        other_id,
        node_key
    from collisions
    where other_id_type = 'user_id'

),

linking_events as (

    select
        anonymous_id,
        user_id
    from identifies
    where anonymous_id is not null and user_id is not null

),

keyed as (

    select
        coalesce(
            rekeyed_anonymous_ids.node_key,
            {{ stitch_node_hash('linking_events.anonymous_id', "'anonymous_id'") }}
        ) as anonymous_key,
        coalesce(
            rekeyed_user_ids.node_key,
            {{ stitch_node_hash('linking_events.user_id', "'user_id'") }}
        ) as user_key
    from linking_events
    left join rekeyed_anonymous_ids on linking_events.anonymous_id = rekeyed_anonymous_ids.other_id
    left join rekeyed_user_ids on linking_events.user_id = rekeyed_user_ids.other_id

),

final as (

    select
        anonymous_key,
        user_key,
        count(*) as event_count
    from keyed
    group by anonymous_key, user_key

)

select * from final
