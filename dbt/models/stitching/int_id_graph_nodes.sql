-- The nodes of the identity graph: every candidate id that no exclusion caught.
with nodes as (

    select * from {{ ref('int_id_nodes') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

final as (

    select nodes.other_id, nodes.other_id_type
    from nodes
    left join excluded
        on nodes.other_id = excluded.other_id
        and nodes.other_id_type = excluded.other_id_type
    where excluded.other_id is null

)

select * from final
