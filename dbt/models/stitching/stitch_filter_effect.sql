{%- set max_users = var('stitch_max_user_ids_per_anonymous_id') | int -%}
{%- set max_anons = var('stitch_max_anonymous_ids_per_user_id') | int -%}
{#- What each exclusion rule removed: ids (by their first reason) and the identify links that
    touched them. An edge whose ends were excluded for different reasons counts under both; the
    all_reasons row counts every removed edge once. #}
with links as (

    select * from {{ ref('int_id_links') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

rules as (

    select
        'exclusion_list' as reason,
        1 as rule_order,
        'on the stitch_exclusion_list seed' as rule

    union all

    select
        'bot_pattern' as reason,
        2 as rule_order,
        {{ sql_string_literal('matches one of ' ~ var('stitch_bot_id_patterns') | join(' | ')) }}
            as rule

    union all

    select
        'super_connector' as reason,
        3 as rule_order,
        'anonymous_id linked to more than {{ max_users }} user_ids' as rule

    union all

    select
        'shared_account' as reason,
        4 as rule_order,
        'user_id linked to more than {{ max_anons }} anonymous_ids' as rule

),

removed_links as (

    select
        links.anonymous_key,
        links.user_key,
        excluded_anonymous.reason as anonymous_id_reason,
        excluded_user.reason as user_id_reason
    from links
    left join excluded as excluded_anonymous on links.anonymous_key = excluded_anonymous.node_key
    left join excluded as excluded_user on links.user_key = excluded_user.node_key
    where
        excluded_anonymous.node_key is not null
        or excluded_user.node_key is not null

),

edges_per_reason as (

    select
        rules.reason,
        count(removed_links.anonymous_key) as edges_removed
    from rules
    left join removed_links
        on
            rules.reason = removed_links.anonymous_id_reason
            or rules.reason = removed_links.user_id_reason
    group by rules.reason

),

ids_per_reason as (

    select
        reason,
        count(*) as ids_excluded,
        count(case when other_id_type = 'user_id' then 1 end) as user_ids_excluded,
        count(case when other_id_type = 'anonymous_id' then 1 end) as anonymous_ids_excluded
    from excluded
    group by reason

),

per_reason as (

    select
        rules.reason,
        rules.rule_order,
        rules.rule,
        coalesce(ids_per_reason.ids_excluded, 0) as ids_excluded,
        coalesce(ids_per_reason.user_ids_excluded, 0) as user_ids_excluded,
        coalesce(ids_per_reason.anonymous_ids_excluded, 0) as anonymous_ids_excluded,
        edges_per_reason.edges_removed
    from rules
    left join ids_per_reason on rules.reason = ids_per_reason.reason
    left join edges_per_reason on rules.reason = edges_per_reason.reason

),

excluded_totals as (

    select
        count(*) as ids_excluded,
        count(case when other_id_type = 'user_id' then 1 end) as user_ids_excluded,
        count(case when other_id_type = 'anonymous_id' then 1 end) as anonymous_ids_excluded
    from excluded

),

removed_link_totals as (

    select count(*) as edges_removed
    from removed_links

),

all_reasons as (

    select
        'all_reasons' as reason,
        5 as rule_order,
        'any rule' as rule,
        excluded_totals.ids_excluded,
        excluded_totals.user_ids_excluded,
        excluded_totals.anonymous_ids_excluded,
        removed_link_totals.edges_removed
    from excluded_totals
    cross join removed_link_totals

),

final as (

    select * from per_reason
    union all
    select * from all_reasons

)

select * from final
