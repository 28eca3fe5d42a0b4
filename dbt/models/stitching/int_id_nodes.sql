-- Every identifier the graph may hold, before exclusions: ids seen in identify events (both SDKs)
-- and the user_ids of orders, one row per (other_id, other_id_type) - the same string as user_id
-- and as anonymous_id is two nodes - with node_key, the integer surrogate the graph runs on.
-- Grouping by an integer hash is several times cheaper than grouping by the strings; ids whose
-- hash collides are noticed by a second hash and numbered densely above the hash range instead
-- (see macros/stitching/stitch_node_key.sql).
{%- set mask = stitch_hash_mask() %}
with identifies as (

    select * from {{ ref('stg_rudderstack__identifies') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

-- one aggregate per id type keeps the type out of the (costly) string aggregate
anonymous_ids as (

    select
        anonymous_id as other_id,
        {{ stitch_node_hash('anonymous_id', "'anonymous_id'") }} as node_hash,
        {{ stitch_check_hash('anonymous_id', "'anonymous_id'") }} as check_hash
    from identifies
    where anonymous_id is not null

),

user_ids as (

    select
        user_id as other_id,
        {{ stitch_node_hash('user_id', "'user_id'") }} as node_hash,
        {{ stitch_check_hash('user_id', "'user_id'") }} as check_hash
    from identifies
    where user_id is not null

    union all

    select
        user_id,
        {{ stitch_node_hash('user_id', "'user_id'") }},
        {{ stitch_check_hash('user_id', "'user_id'") }}
    from orders
    where user_id is not null

),

hashed as (

    select other_id, 'anonymous_id' as other_id_type, node_hash, check_hash from anonymous_ids
    union all
    select other_id, 'user_id' as other_id_type, node_hash, check_hash from user_ids

),

anonymous_hashes as (

    select
        node_hash,
        any_value(other_id) as other_id,
        'anonymous_id' as other_id_type,
        min(check_hash) <> max(check_hash) as is_collision
    from anonymous_ids
    group by node_hash

),

user_hashes as (

    select
        node_hash,
        any_value(other_id) as other_id,
        'user_id' as other_id_type,
        min(check_hash) <> max(check_hash) as is_collision
    from user_ids
    group by node_hash

),

-- the type is part of the hashed value, so an anonymous_id and a user_id share a node_hash only
-- by a collision
cross_type_hashes as (

    select anonymous_hashes.node_hash
    from anonymous_hashes
    inner join user_hashes on user_hashes.node_hash = anonymous_hashes.node_hash

),

colliding_hashes as (

    select node_hash from anonymous_hashes where is_collision
    union
    select node_hash from user_hashes where is_collision
    union
    select node_hash from cross_type_hashes

),

colliding_ids as (

    select distinct hashed.other_id, hashed.other_id_type
    from hashed
    inner join colliding_hashes on colliding_hashes.node_hash = hashed.node_hash

),

unique_hashes as (

    select other_id, other_id_type, node_hash from anonymous_hashes
    union all
    select other_id, other_id_type, node_hash from user_hashes

),

rekeyed as (

    select
        other_id,
        other_id_type,
        {{ mask }} + row_number() over (order by other_id_type, other_id) as node_key
    from colliding_ids

),

final as (

    select unique_hashes.other_id, unique_hashes.other_id_type, unique_hashes.node_hash as node_key
    from unique_hashes
    left join colliding_hashes on colliding_hashes.node_hash = unique_hashes.node_hash
    where colliding_hashes.node_hash is null

    union all

    select other_id, other_id_type, node_key
    from rekeyed

)

select * from final
