{#- Every (anonymous_id, user_id) pair an identify event links, before any exclusion, as node
    keys (join int_id_nodes on node_key for the strings), so every later step is integer work;
    with how many of its events an entry of stitch_link_exclusions matched (int_id_link_exclusions)
    and whether that was all of them (is_unmerged: stitching does not use the link). The pairs
    stay, unmerged or not, so link counts are still taken before any exclusion. #}
with identifies as (

    select * from {{ ref('stg_rudderstack__identifies') }}

),

link_exclusions as (

    select
        anonymous_id,
        user_id,
        identify_event_key
    from {{ ref('int_id_link_exclusions') }}
    where is_match

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

{#- an event matched by several entries is unmerged once #}

unmerged_pairs as (

    select
        anonymous_id,
        user_id,
        count(distinct identify_event_key) as unmerged_events
    from link_exclusions
    group by anonymous_id, user_id

),

{#- the events, and one row more per unmerged pair (unmerged_events set): keyed in one pass #}

linking_events as (

    select
        anonymous_id,
        user_id,
        cast(null as {{ dbt.type_bigint() }}) as unmerged_events
    from identifies
    where anonymous_id is not null and user_id is not null

    union all

    select
        anonymous_id,
        user_id,
        unmerged_events
    from unmerged_pairs

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
        ) as user_key,
        linking_events.unmerged_events
    from linking_events
    left join rekeyed_anonymous_ids on linking_events.anonymous_id = rekeyed_anonymous_ids.other_id
    left join rekeyed_user_ids on linking_events.user_id = rekeyed_user_ids.other_id

),

{#- a pair has at most one unmerged row; every other row is an event #}

final as (

    select
        anonymous_key,
        user_key,
        count(*) - count(unmerged_events) as event_count,
        coalesce(max(unmerged_events), 0) as unmerged_event_count,
        coalesce(max(unmerged_events), 0) = count(*) - count(unmerged_events) as is_unmerged
    from keyed
    group by anonymous_key, user_key

)

select * from final
