{%- set max_users = var('stitch_max_user_ids_per_anonymous_id') | int -%}
{%- set max_anons = var('stitch_max_anonymous_ids_per_user_id') | int -%}
{%- set patterns = var('stitch_bot_id_patterns') -%}
-- Ids kept out of the identity graph, one row per id with the first reason that applies
-- (exclusion list, bot pattern, super-connector, shared account) and every reason in reasons.
with links as (

    select * from {{ ref('int_id_links') }}

),

nodes as (

    select * from {{ ref('int_id_nodes') }}

),

exclusion_list as (

    select * from {{ ref('stitch_exclusion_list') }}

),

listed as (

    select
        trim(id) as other_id,
        trim(id_type) as other_id_type,
        1 as priority,
        'exclusion_list' as reason,
        'on the exclusion list: ' || coalesce(note, '') as detail
    from exclusion_list

),

bot_patterns as (

    {% for pattern in patterns %}
    select
        other_id,
        other_id_type,
        2 as priority,
        'bot_pattern' as reason,
        'matches {{ pattern | replace("'", "''") }}' as detail
    from nodes
    where {{ regex_search('other_id', pattern) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

super_connectors as (

    select
        anonymous_id as other_id,
        'anonymous_id' as other_id_type,
        3 as priority,
        'super_connector' as reason,
        'linked to ' || cast(count(*) as varchar) || ' user_ids (max {{ max_users }})' as detail
    from links
    group by anonymous_id
    having count(*) > {{ max_users }}

),

shared_accounts as (

    select
        user_id as other_id,
        'user_id' as other_id_type,
        4 as priority,
        'shared_account' as reason,
        'linked to ' || cast(count(*) as varchar) || ' anonymous_ids (max {{ max_anons }})' as detail
    from links
    group by user_id
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

final as (

    select
        other_id,
        other_id_type,
        min_by(reason, priority) as reason,
        min_by(detail, priority) as detail,
        {{ dbt.listagg('reason', "', '", "order by priority") }} as reasons
    from all_reasons
    group by other_id, other_id_type

)

select * from final
