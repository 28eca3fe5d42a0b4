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

-- every id's profile as a node key, on integers alone: an anonymous_id follows its owner user_id's
-- component, or the owner itself; a user_id its component; any other id is its own profile. The
-- anonymous_ids are given their profile apart, and every join of the 13M nodes is an equality
-- join to a smaller table: a join on coalesce(...) or an anti-join before it makes DuckDB misjudge
-- the row count and build its hash table on the nodes, strings and all, which cost 2 s a join
anonymous_id_profiles as (

    select
        owners.anonymous_key,
        coalesce(components.component_key, owners.owner_user_key) as profile_key
    from owners
    left join components on components.node_key = owners.owner_user_key

),

profiled as (

    select
        nodes.other_id,
        nodes.other_id_type,
        coalesce(
            anonymous_id_profiles.profile_key, components.component_key, nodes.node_key
        ) as profile_key,
        excluded.node_key is not null as is_excluded
    from nodes
    left join anonymous_id_profiles on anonymous_id_profiles.anonymous_key = nodes.node_key
    left join components on components.node_key = nodes.node_key
    left join excluded on excluded.node_key = nodes.node_key

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
    where not profiled.is_excluded

)

select * from final
