{{ config(materialized='connected_components') }}
-- Connected components of the user_ids, over integer surrogates: one row per user_id that shares
-- an anonymous_id with another user_id, with component_key = the smallest node_key of its
-- component. An anonymous_id linked to one user_id joins that user's profile and connects nobody,
-- so the loop runs on user_ids alone: the user_ids of an anonymous_id shared by several are each
-- linked to its owner, the smallest one (a star, not every pair). Most anonymous_ids have one
-- user_id, so this is a small part of the graph; user_id_stitcher attaches the anonymous_ids and
-- the user_ids of single-user profiles. The connected_components materialization iterates.
with links as (

    select * from {{ ref('int_id_links') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

owners as (

    select * from {{ ref('int_anonymous_id_owners') }}

),

shared_anonymous_ids as (

    select anonymous_key, owner_user_key
    from owners
    where user_id_count > 1

),

final as (

    select
        shared_anonymous_ids.owner_user_key as node_a,
        links.user_key as node_b
    from links
    inner join shared_anonymous_ids on shared_anonymous_ids.anonymous_key = links.anonymous_key
    left join excluded on excluded.node_key = links.user_key
    where excluded.node_key is null
        and links.user_key <> shared_anonymous_ids.owner_user_key

)

select * from final
