{{ config(materialized='connected_components') }}
{#- Connected components of the user_ids, over integer surrogates (the connected_components
    materialization iterates): one row per user_id sharing an anonymous_id with another, with
    component_key = the smallest node_key of its component. An anonymous_id's user_ids are each
    linked to its owner (a star, not every pair); user_id_stitcher attaches the rest. #}
with links as (

    select
        anonymous_key,
        user_key
    from {{ ref('int_id_links') }}
    where not is_unmerged

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

owners as (

    select * from {{ ref('int_anonymous_id_owners') }}

),

shared_anonymous_ids as (

    select
        anonymous_key,
        owner_user_key
    from owners
    where user_id_count > 1

),

final as (

    select
        shared_anonymous_ids.owner_user_key as node_a,
        links.user_key as node_b
    from links
    inner join shared_anonymous_ids on links.anonymous_key = shared_anonymous_ids.anonymous_key
    left join excluded on links.user_key = excluded.node_key
    where
        excluded.node_key is null
        and links.user_key <> shared_anonymous_ids.owner_user_key

)

select * from final
