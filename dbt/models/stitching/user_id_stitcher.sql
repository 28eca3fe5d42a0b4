-- The identity graph: each surviving id -> the canonical id of its profile. user_main_id is the
-- md5 of 'user_id:' || the profile's smallest user_id, or of 'anonymous_id:' || the id for an
-- anonymous_id linked to no surviving user_id (a profile of its own): it depends only on who is in
-- the profile, never on row order, threads, the engine or the hash-based node keys.
with nodes as (

    select * from {{ ref('int_id_nodes') }}

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

    select nodes.*
    from nodes
    left join excluded on excluded.node_key = nodes.node_key
    where excluded.node_key is null

),

-- only profiles with several user_ids need the string aggregate
multi_user_profiles as (

    select
        components.component_key,
        min(nodes.other_id) as smallest_user_id
    from components
    inner join nodes on nodes.node_key = components.node_key
    group by components.component_key

),

user_ids as (

    select
        {{ dbt.hash("'user_id:' || coalesce(multi_user_profiles.smallest_user_id, surviving_nodes.other_id)") }}
            as user_main_id,
        surviving_nodes.other_id,
        surviving_nodes.other_id_type,
        surviving_nodes.node_key
    from surviving_nodes
    left join components on components.node_key = surviving_nodes.node_key
    left join multi_user_profiles on multi_user_profiles.component_key = components.component_key
    where surviving_nodes.other_id_type = 'user_id'

),

-- an anonymous_id takes its owner's profile; one without a surviving link is a profile of its own
anonymous_ids as (

    select
        coalesce(
            user_ids.user_main_id,
            {{ dbt.hash("'anonymous_id:' || surviving_nodes.other_id") }}
        ) as user_main_id,
        surviving_nodes.other_id,
        surviving_nodes.other_id_type
    from surviving_nodes
    left join owners on owners.anonymous_key = surviving_nodes.node_key
    left join user_ids on user_ids.node_key = owners.owner_user_key
    where surviving_nodes.other_id_type = 'anonymous_id'

),

final as (

    select user_main_id, other_id, other_id_type from user_ids
    union all
    select user_main_id, other_id, other_id_type from anonymous_ids

)

select * from final
