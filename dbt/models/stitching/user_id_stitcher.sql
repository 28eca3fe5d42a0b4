{#- The identity graph: each surviving id -> the canonical id of its profile (user_main_id, see
    the doc block), which depends only on who is in the profile, never on row order, threads, the
    engine or the hash-based node keys. The user_ids are read in import CTEs of their own, as
    DuckDB materializes a CTE that is read twice. #}
with nodes as (

    select * from {{ ref('int_id_nodes') }}

),

user_ids as (

    select
        node_key,
        other_id
    from {{ ref('int_id_nodes') }}
    where other_id_type = 'user_id'

),

component_user_ids as (

    select
        node_key,
        other_id
    from {{ ref('int_id_nodes') }}
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

{#- Every id's profile as a node key, on integers alone: an anonymous_id follows its owner
    user_id's component (or the owner), a user_id its component, any other id is its own profile.
    Every join of the nodes is an equality join to a smaller table: a join on coalesce() or an
    anti-join first makes DuckDB build its hash table on the nodes, strings and all. #}

anonymous_id_profiles as (

    select
        owners.anonymous_key,
        coalesce(components.component_key, owners.owner_user_key) as profile_key
    from owners
    left join components on owners.owner_user_key = components.node_key

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
    left join anonymous_id_profiles on nodes.node_key = anonymous_id_profiles.anonymous_key
    left join components on nodes.node_key = components.node_key
    left join excluded on nodes.node_key = excluded.node_key

),

{#- one hash per profile that has a user_id, named after its smallest user_id: a string
    aggregate only over the few user_ids in components #}

profile_names as (

    select
        components.component_key as profile_key,
        {{ dbt.hash("'user_id:' || min(component_user_ids.other_id)") }} as user_main_id
    from components
    inner join component_user_ids on components.node_key = component_user_ids.node_key
    group by components.component_key

    union all

    select
        user_ids.node_key as profile_key,
        {{ dbt.hash("'user_id:' || user_ids.other_id") }} as user_main_id
    from user_ids
    left join components on user_ids.node_key = components.node_key
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
    left join profile_names on profiled.profile_key = profile_names.profile_key
    where not profiled.is_excluded

)

select * from final
