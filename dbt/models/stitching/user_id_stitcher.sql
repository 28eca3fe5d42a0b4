-- The identity graph: each surviving id -> the canonical id of its connected component.
-- user_main_id is derived from the component's smallest user_id (else smallest anonymous_id),
-- so it depends only on who is in the profile, not on row order.
with recursive nodes as (

    select
        other_id,
        other_id_type,
        (case when other_id_type = 'user_id' then '0' else '1' end) || other_id as node_key
    from {{ ref('int_id_graph_nodes') }}

),

edges as (

    select '0' || user_id as src, '1' || anonymous_id as dst from {{ ref('int_id_graph_edges') }}
    union
    select '1' || anonymous_id, '0' || user_id from {{ ref('int_id_graph_edges') }}

),

reach (node_key, reached) as (

    select node_key, node_key from nodes
    union
    select reach.node_key, edges.dst
    from reach
    join edges on edges.src = reach.reached

),

components as (

    select node_key, min(reached) as root_key
    from reach
    group by node_key

),

final as (

    select
        md5(components.root_key) as user_main_id,
        nodes.other_id,
        nodes.other_id_type
    from nodes
    join components on components.node_key = nodes.node_key

)

select * from final
