{%- set max_users = var('stitch_max_user_ids_per_anonymous_id') | int -%}
{%- set max_anons = var('stitch_max_anonymous_ids_per_user_id') | int -%}
{%- set patterns = var('stitch_bot_id_patterns') -%}
{%- if max_users < 1 or max_anons < 1 -%}
    {{ exceptions.raise_compiler_error(
        "stitch_max_user_ids_per_anonymous_id and stitch_max_anonymous_ids_per_user_id must be"
        ~ " at least 1, got " ~ max_users ~ " and " ~ max_anons) }}
{%- endif -%}
{#- Ids kept out of the identity graph, one row per id with the first reason that applies and
    every reason in reasons. Link counts are taken before any exclusion, so one exclusion never
    decides another. Each rule reads only its columns in its own import CTE, as DuckDB
    materializes a CTE that is read twice. #}
with nodes as (

    select * from {{ ref('int_id_nodes') }}

),

{#- the ids of the few nodes a link rule excludes #}

link_rule_nodes as (

    select
        node_key,
        other_id,
        other_id_type
    from {{ ref('int_id_nodes') }}

),

link_degrees as (

    select * from {{ ref('int_id_link_degrees') }}

),

exclusion_list as (

    select * from {{ ref('stitch_exclusion_list') }}

),

listed as (

    select
        trim(id) as other_id,
        trim(id_type) as other_id_type,
        'on the exclusion list: ' || coalesce(min(note), '') as detail
    from exclusion_list
    group by trim(id), trim(id_type)

),

{#- one pass over the ids for the rules that look at the id itself; the case names the first
    pattern that matched #}

id_rules as (

    select
        nodes.node_key,
        nodes.other_id,
        nodes.other_id_type,
        listed.detail as listed_detail,
        {%- if patterns %}
        case
            {%- for pattern in patterns %}
            when {{ regex_search('nodes.other_id', pattern) }}
                then {{ sql_string_literal('matches ' ~ pattern) }}
            {%- endfor %}
        end as bot_detail
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as bot_detail
        {%- endif %}
    from nodes
    left join listed
        on
            nodes.other_id = listed.other_id
            and nodes.other_id_type = listed.other_id_type
    where
        listed.other_id is not null
        {%- for pattern in patterns %}
        or {{ regex_search('nodes.other_id', pattern) }}
        {%- endfor %}

),

{#- an id is one type, so at most one link rule applies to it; the link counts hold only ids
    linked more than once, below which no threshold (at least 1) lies #}

link_rules as (

    select
        node_key,
        case
            when other_id_type = 'anonymous_id' then 'super_connector' else 'shared_account'
        end as reason,
        'linked to ' || cast(linked_ids as {{ dbt.type_string() }}) || case
            when other_id_type = 'anonymous_id' then ' user_ids (max {{ max_users }})'
            else ' anonymous_ids (max {{ max_anons }})'
        end as detail
    from link_degrees
    where
        (other_id_type = 'anonymous_id' and linked_ids > {{ max_users }})
        or (other_id_type = 'user_id' and linked_ids > {{ max_anons }})

),

link_rule_ids as (

    select
        link_rules.node_key,
        link_rule_nodes.other_id,
        link_rule_nodes.other_id_type,
        link_rules.reason,
        link_rules.detail
    from link_rules
    inner join link_rule_nodes on link_rules.node_key = link_rule_nodes.node_key

),

checked as (

    select
        coalesce(id_rules.node_key, link_rule_ids.node_key) as node_key,
        coalesce(id_rules.other_id, link_rule_ids.other_id) as other_id,
        coalesce(id_rules.other_id_type, link_rule_ids.other_id_type) as other_id_type,
        id_rules.listed_detail,
        id_rules.bot_detail,
        link_rule_ids.reason as link_reason,
        link_rule_ids.detail as link_detail
    from id_rules
    full outer join link_rule_ids on id_rules.node_key = link_rule_ids.node_key

),

final as (

    select
        other_id,
        other_id_type,
        case
            when listed_detail is not null then 'exclusion_list'
            when bot_detail is not null then 'bot_pattern'
            else link_reason
        end as reason,
        coalesce(listed_detail, bot_detail, link_detail) as detail,
        substr(
            case when listed_detail is not null then ', exclusion_list' else '' end
            || case when bot_detail is not null then ', bot_pattern' else '' end
            || case when link_reason is not null then ', ' || link_reason else '' end,
            3
        ) as reasons,
        node_key
    from checked

)

select * from final
