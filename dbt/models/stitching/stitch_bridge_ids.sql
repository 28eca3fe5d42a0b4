{%- set min_anons = var('stitch_qa_bridge_min_anonymous_ids', 20) | int -%}
{%- if min_anons < 1 -%}
    {{ exceptions.raise_compiler_error(
        "stitch_qa_bridge_min_anonymous_ids must be at least 1, got " ~ min_anons) }}
{%- endif -%}
{#- Ids that bridge people, counted before filtering so on-call sees what the filters caught
    and what they let through: anonymous_ids linked to more than one user_id (shared devices)
    and user_ids linked to more than stitch_qa_bridge_min_anonymous_ids anonymous_ids. #}
with nodes as (

    select * from {{ ref('int_id_nodes') }}

),

link_degrees as (

    select * from {{ ref('int_id_link_degrees') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

stitcher as (

    select * from {{ ref('user_id_stitcher') }}

),

bridge_keys as (

    select
        node_key,
        linked_ids
    from link_degrees
    where
        other_id_type = 'anonymous_id'
        or linked_ids > {{ min_anons }}

),

bridges as (

    select
        nodes.other_id,
        nodes.other_id_type,
        nodes.node_key,
        bridge_keys.linked_ids
    from bridge_keys
    inner join nodes on bridge_keys.node_key = nodes.node_key

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
    left join excluded on bridges.node_key = excluded.node_key
    left join stitcher
        on
            bridges.other_id = stitcher.other_id
            and bridges.other_id_type = stitcher.other_id_type

)

select * from final
