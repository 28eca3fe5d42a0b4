{#- Every identifier the graph may hold, before exclusions: identify ids (both SDKs) and order
    user_ids, one row per (other_id, other_id_type), with node_hash, its integer key unless
    another id shares it (int_id_key_collisions, a model of its own so DuckDB does not
    materialize the ids twice). Two one-column import CTEs over the same table: DuckDB
    materializes a CTE read twice. #}
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

    select
        other_id,
        other_id_type,
        node_hash
    from hashed

)

select * from final
