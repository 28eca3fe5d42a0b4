{{ config(materialized='connected_components') }}
-- The identity graph's connected components over integer surrogates: one row per node that
-- touches a surviving edge, with component_key = the smallest node_key of its component. The
-- model's SQL is the surviving edge list (links whose both ends escaped every exclusion); the
-- connected_components materialization iterates.
with links as (

    select * from {{ ref('int_id_links') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

final as (

    select
        links.anonymous_key as node_a,
        links.user_key as node_b
    from links
    left join excluded as excluded_anonymous on excluded_anonymous.node_key = links.anonymous_key
    left join excluded as excluded_user on excluded_user.node_key = links.user_key
    where excluded_anonymous.node_key is null
        and excluded_user.node_key is null

)

select * from final
