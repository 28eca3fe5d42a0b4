{#- The ids whose node_hash another id shares, each with a dense node_key above the hash range
    instead (macros/stitching/stitch_node_key.sql); almost always empty with 62-bit hashes, it
    keeps the surrogates exact. #}
{%- set mask = stitch_hash_mask() %}
{#- the hashes alone are grouped: one integer column, read apart from the ids #}
with hash_values as (

    select node_hash from {{ ref('int_id_node_hashes') }}

),

node_hashes as (

    select * from {{ ref('int_id_node_hashes') }}

),

colliding_hashes as (

    select node_hash
    from hash_values
    group by node_hash
    having count(*) > 1

),

final as (

    select
        node_hashes.other_id,
        node_hashes.other_id_type,
        node_hashes.node_hash,
        {{ mask }} + row_number() over (
            order by node_hashes.other_id_type, node_hashes.other_id
        ) as node_key
    from node_hashes
    inner join colliding_hashes on node_hashes.node_hash = colliding_hashes.node_hash

)

select * from final
