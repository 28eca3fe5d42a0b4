{{ config(materialized='view') }}
-- Every identifier the graph may hold, before exclusions, one row per (other_id, other_id_type),
-- with node_key, the integer surrogate the graph runs on: the id's hash, or for the few ids whose
-- hash collided, their dense key. A view: writing the 13M ids again would cost a table's worth of
-- time, and the join to the (almost always empty) collisions costs next to nothing.
with node_hashes as (

    select * from {{ ref('int_id_node_hashes') }}

),

collisions as (

    select * from {{ ref('int_id_key_collisions') }}

),

final as (

    select
        node_hashes.other_id,
        node_hashes.other_id_type,
        coalesce(collisions.node_key, node_hashes.node_hash) as node_key
    from node_hashes
    left join collisions
        on collisions.node_hash = node_hashes.node_hash
        and collisions.other_id = node_hashes.other_id
        and collisions.other_id_type = node_hashes.other_id_type

)

select * from final
