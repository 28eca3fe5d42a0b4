-- The identity graph: each surviving id -> the canonical id of its profile. user_main_id is the
-- md5 of 'user_id:' || the profile's smallest user_id, or of 'anonymous_id:' || the id for an
-- anonymous_id linked to no surviving user_id (a profile of its own): it depends only on who is in
-- the profile, never on row order, threads, the engine or the hash-based node keys.
-- the user_ids are read apart from all nodes, in their own import CTEs: DuckDB materializes a CTE
-- that is read twice, and copying 10M+ ids costs more than scanning the few million user_ids again
with nodes as (

    select * from {{ ref('int_id_nodes') }}

),

user_ids as (

    select node_key, other_id from {{ ref('int_id_nodes') }}
    where other_id_type = 'user_id'

),

component_user_ids as (

    select node_key, other_id from {{ ref('int_id_nodes') }}
    where other_id_type = 'user_id'

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

owners as (

    select * from {{ ref('int_anonymous_id_owners') }}

),

components as (

    select * from {{ ref('int_id_components') }}

),

surviving_nodes as (

    select
        nodes.other_id,
        nodes.other_id_type,
        nodes.node_key
    from nodes
    left join excluded on excluded.node_key = nodes.node_key
    where excluded.node_key is null

),

-- every id's profile as a node key, on integers alone: an anonymous_id follows its owner user_id
-- (keys are unique across both types, so a user_id finds no owner row), a user_id its component;
-- a user_id outside every component, or a lone anonymous_id, is its own profile
profiled as (

    select
        surviving_nodes.other_id,
        surviving_nodes.other_id_type,
        coalesce(
            components.component_key, owners.owner_user_key, surviving_nodes.node_key
        ) as profile_key
    from surviving_nodes
    left join owners on owners.anonymous_key = surviving_nodes.node_key
    left join components
        on components.node_key = coalesce(owners.owner_user_key, surviving_nodes.node_key)

),

-- one hash per profile that has a user_id, named after its smallest user_id: a string aggregate
-- only over the user_ids in components, which are few
profile_names as (

    select
        components.component_key as profile_key,
        {{ dbt.hash("'user_id:' || min(component_user_ids.other_id)") }} as user_main_id
    from components
    inner join component_user_ids on component_user_ids.node_key = components.node_key
    group by components.component_key

    union all

    select
        user_ids.node_key as profile_key,
        {{ dbt.hash("'user_id:' || user_ids.other_id") }} as user_main_id
    from user_ids
    left join components on components.node_key = user_ids.node_key
    where components.node_key is null

),

final as (

    select
        coalesce(
            profile_names.user_main_id,
            {{ dbt.hash("'anonymous_id:' || profiled.other_id") }}
        ) as user_main_id,
        profiled.other_id,
        profiled.other_id_type
    from profiled
    left join profile_names on profile_names.profile_key = profiled.profile_key

)

select * from final
