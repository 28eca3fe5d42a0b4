-- Every identifier the graph may hold: ids seen in identify events (both SDKs) and the user_ids
-- of orders. The same string as user_id and as anonymous_id is two nodes.
with identifies as (

    select * from {{ ref('stg_rudderstack__identifies') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

candidates as (

    select user_id as other_id, 'user_id' as other_id_type from identifies where user_id is not null
    union
    select anonymous_id, 'anonymous_id' from identifies where anonymous_id is not null
    union
    select user_id, 'user_id' from orders where user_id is not null

),

final as (

    select distinct other_id, other_id_type from candidates

)

select * from final
