-- Every (anonymous_id, user_id) pair an identify event links, before any exclusion.
with identifies as (

    select * from {{ ref('stg_rudderstack__identifies') }}

),

final as (

    select
        anonymous_id,
        user_id,
        count(*) as event_count,
        min(event_at) as first_linked_at,
        max(event_at) as last_linked_at
    from identifies
    where anonymous_id is not null and user_id is not null
    group by anonymous_id, user_id

)

select * from final
