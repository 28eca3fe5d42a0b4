{%- set max_users = var('stitch_max_user_ids_per_anonymous_id') | int -%}
{%- set max_anons = var('stitch_max_anonymous_ids_per_user_id') | int -%}
{%- set patterns = var('stitch_bot_id_patterns') -%}
-- Ids kept out of the identity graph, one row per id with the first reason that applies
-- (exclusion list, bot pattern, super-connector, shared account) and every reason in reasons.
-- Link counts are taken before any exclusion: a rule looks at the data as it arrived, so one
-- exclusion never changes whether another id crosses a threshold.
with nodes as (

    select * from {{ ref('int_id_nodes') }}

),

links as (

    select * from {{ ref('int_id_links') }}

),

exclusion_list as (

    select * from {{ ref('stitch_exclusion_list') }}

),

-- only entries that are in the data: an id that never arrived was not kept out of anything
listed as (

    select
        nodes.node_key,
        1 as priority,
        'exclusion_list' as reason,
        'on the exclusion list: ' || coalesce(min(exclusion_list.note), '') as detail
    from exclusion_list
    inner join nodes
        on nodes.other_id = trim(exclusion_list.id)
        and nodes.other_id_type = trim(exclusion_list.id_type)
    group by nodes.node_key

),

-- one scan for all patterns; the case names the first pattern that matched
bot_patterns as (

    select
        node_key,
        2 as priority,
        'bot_pattern' as reason,
        {%- if patterns %}
        case
            {%- for pattern in patterns %}
            when {{ regex_search('other_id', pattern) }} then {{ stitch_string_literal('matches ' ~ pattern) }}
            {%- endfor %}
        end as detail
    from nodes
    where {% for pattern in patterns -%}
        {{ regex_search('other_id', pattern) }}{% if not loop.last %} or {% endif %}
    {%- endfor %}
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as detail
    from nodes
    where 1 = 0
        {%- endif %}

),

super_connectors as (

    select
        anonymous_key as node_key,
        3 as priority,
        'super_connector' as reason,
        'linked to ' || cast(count(*) as {{ dbt.type_string() }})
            || ' user_ids (max {{ max_users }})' as detail
    from links
    group by anonymous_key
    having count(*) > {{ max_users }}

),

shared_accounts as (

    select
        user_key as node_key,
        4 as priority,
        'shared_account' as reason,
        'linked to ' || cast(count(*) as {{ dbt.type_string() }})
            || ' anonymous_ids (max {{ max_anons }})' as detail
    from links
    group by user_key
    having count(*) > {{ max_anons }}

),

all_reasons as (

    select * from listed
    union all
    select * from bot_patterns
    union all
    select * from super_connectors
    union all
    select * from shared_accounts

),

by_node as (

    select
        node_key,
        min_by(reason, priority) as reason,
        min_by(detail, priority) as detail,
        {{ dbt.listagg('reason', "', '", "order by priority") }} as reasons
    from all_reasons
    group by node_key

),

final as (

    select
        nodes.other_id,
        nodes.other_id_type,
        by_node.reason,
        by_node.detail,
        by_node.reasons,
        by_node.node_key
    from by_node
    inner join nodes on nodes.node_key = by_node.node_key

)

select * from final
