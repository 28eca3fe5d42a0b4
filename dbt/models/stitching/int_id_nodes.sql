{{ config(materialized='view') }}
{#- Every identifier the graph may hold, before exclusions, with node_key, the integer
    surrogate the graph runs on. A view: the join to the (almost always empty) collisions is
    cheap, writing every id again is not. #}
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
        on
            node_hashes.node_hash = collisions.node_hash
            and node_hashes.other_id = collisions.other_id
            and node_hashes.other_id_type = collisions.other_id_type

)

select * from final
