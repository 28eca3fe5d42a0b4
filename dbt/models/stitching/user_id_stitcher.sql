-- The identity graph: each surviving id -> the canonical id of its connected component.
-- user_main_id is the md5 of 'user_id:' || the component's smallest user_id, else of
-- 'anonymous_id:' || its smallest anonymous_id (the type prefix keeps a string used as both types
-- from colliding): it depends only on who is in the profile, never on row order, threads, the
-- engine or the arbitrary component_key.
with nodes as (

    select * from {{ ref('int_id_nodes') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

components as (

    select * from {{ ref('int_id_components') }}

),

-- only components with edges need the aggregate (their nodes all survived the exclusions); a
-- node without an edge is a profile of its own
smallest_members as (

    select
        components.component_key,
        min(case when nodes.other_id_type = 'user_id' then nodes.other_id end) as smallest_user_id,
        min(case when nodes.other_id_type = 'anonymous_id' then nodes.other_id end) as smallest_anonymous_id
    from components
    inner join nodes on nodes.node_key = components.node_key
    group by components.component_key

),

component_main_ids as (

    select
        component_key,
        {{ dbt.hash(
            "case when smallest_user_id is not null then 'user_id:' || smallest_user_id
             else 'anonymous_id:' || smallest_anonymous_id end"
        ) }} as user_main_id
    from smallest_members

),

final as (

    select
        coalesce(
            component_main_ids.user_main_id,
            {{ dbt.hash("nodes.other_id_type || ':' || nodes.other_id") }}
        ) as user_main_id,
        nodes.other_id,
        nodes.other_id_type
    from nodes
    left join excluded on excluded.node_key = nodes.node_key
    left join components on components.node_key = nodes.node_key
    left join component_main_ids on component_main_ids.component_key = components.component_key
    where excluded.node_key is null

)

select * from final
