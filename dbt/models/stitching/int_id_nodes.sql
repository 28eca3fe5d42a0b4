-- Every identifier the graph may hold, before exclusions: ids seen in identify events (both SDKs)
-- and the user_ids of orders, one row per (other_id, other_id_type) - the same string as user_id
-- and as anonymous_id is two nodes - with node_key, the integer surrogate the graph runs on.
-- The key is a hash of (id, type), so every later step works on integers and int_id_links keys
-- its events without joining this table. The ids are made distinct first: two rows sharing a
-- hash are then two different ids, and those few are numbered densely above the hash range
-- instead (see macros/stitching/stitch_node_key.sql).
{%- set mask = stitch_hash_mask() %}
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

colliding_hashes as (

    select node_hash
    from hashed
    group by node_hash
    having count(*) > 1

),

keyed as (

    select
        hashed.other_id,
        hashed.other_id_type,
        hashed.node_hash,
        colliding_hashes.node_hash is not null as is_collision
    from hashed
    left join colliding_hashes on colliding_hashes.node_hash = hashed.node_hash

),

final as (

    select other_id, other_id_type, node_hash as node_key
    from keyed
    where not is_collision

    union all

    select
        other_id,
        other_id_type,
        {{ mask }} + row_number() over (order by other_id_type, other_id) as node_key
    from keyed
    where is_collision

)

select * from final
