-- Every identifier the graph may hold, before exclusions: ids seen in identify events (both SDKs)
-- and the user_ids of orders, one row per (other_id, other_id_type) - the same string as user_id
-- and as anonymous_id is two nodes - with node_hash, a hash of (id, type) that serves as the
-- node's integer key unless another id shares it (int_id_key_collisions; int_id_nodes holds the
-- final keys). Finding those collisions is a model of its own: in this one it would make DuckDB
-- materialize the 13M ids a second time, which cost more than finding them.
-- two import CTEs over the same table, one column each: DuckDB materializes a CTE read twice,
-- which here would copy 11M events before the first id is hashed
with identify_anonymous_ids as (

    select anonymous_id from {{ ref('stg_rudderstack__identifies') }}

),

identify_user_ids as (

    select user_id from {{ ref('stg_rudderstack__identifies') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

anonymous_ids as (

    select distinct anonymous_id as other_id
    from identify_anonymous_ids
    where anonymous_id is not null

),

user_ids as (

    select user_id as other_id
    from identify_user_ids
    where user_id is not null

    union

    select user_id
    from orders
    where user_id is not null

),

hashed as (

    select
        other_id,
        'anonymous_id' as other_id_type,
        {{ stitch_node_hash('other_id', "'anonymous_id'") }} as node_hash
    from anonymous_ids

    union all

    select
        other_id,
        'user_id' as other_id_type,
        {{ stitch_node_hash('other_id', "'user_id'") }} as node_hash
    from user_ids

),

final as (

    select other_id, other_id_type, node_hash
    from hashed

)

select * from final
