{%- set min_anons = var('stitch_qa_bridge_min_anonymous_ids', 20) | int -%}
-- Ids that bridge people, counted before filtering so on-call sees what the filters caught and
-- what they let through: anonymous_ids linked to more than one user_id (shared devices) and
-- user_ids linked to more than {{ min_anons }} anonymous_ids.
with nodes as (

    select * from {{ ref('int_id_nodes') }}

),

links as (

    select * from {{ ref('int_id_links') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

stitcher as (

    select * from {{ ref('user_id_stitcher') }}

),

bridge_keys as (

    select anonymous_key as node_key, count(*) as linked_ids
    from links
    group by anonymous_key
    having count(*) > 1

    union all

    select user_key, count(*)
    from links
    group by user_key
    having count(*) > {{ min_anons }}

),

bridges as (

    select nodes.other_id, nodes.other_id_type, nodes.node_key, bridge_keys.linked_ids
    from bridge_keys
    inner join nodes on nodes.node_key = bridge_keys.node_key

),

final as (

    select
        bridges.other_id,
        bridges.other_id_type,
        bridges.linked_ids,
        excluded.node_key is not null as is_excluded,
        excluded.reason as excluded_reason,
        stitcher.user_main_id
    from bridges
    left join excluded on excluded.node_key = bridges.node_key
    left join stitcher
        on stitcher.other_id = bridges.other_id
        and stitcher.other_id_type = bridges.other_id_type

)

select * from final
