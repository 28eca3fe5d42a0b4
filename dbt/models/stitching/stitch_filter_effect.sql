-- What each exclusion rule removed: ids (by their first reason) and the identify links that
-- touched them. An edge whose two ends were excluded for different reasons counts under both;
-- the all_reasons row counts every removed edge once.
with links as (

    select * from {{ ref('int_id_links') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

rules as (

    select 'exclusion_list' as reason, 1 as rule_order,
        'on the stitch_exclusion_list seed' as rule
    union all
    select 'bot_pattern', 2,
        {{ stitch_string_literal('matches one of ' ~ var('stitch_bot_id_patterns') | join(' | ')) }}
    union all
    select 'super_connector', 3,
        'anonymous_id linked to more than {{ var("stitch_max_user_ids_per_anonymous_id") | int }} user_ids'
    union all
    select 'shared_account', 4,
        'user_id linked to more than {{ var("stitch_max_anonymous_ids_per_user_id") | int }} anonymous_ids'

),

removed_links as (

    select
        links.anonymous_key,
        links.user_key,
        excluded_anonymous.reason as anonymous_id_reason,
        excluded_user.reason as user_id_reason
    from links
    left join excluded as excluded_anonymous on excluded_anonymous.node_key = links.anonymous_key
    left join excluded as excluded_user on excluded_user.node_key = links.user_key
    where excluded_anonymous.node_key is not null
        or excluded_user.node_key is not null

),

edges_per_reason as (

    select
        rules.reason,
        count(removed_links.anonymous_key) as edges_removed
    from rules
    left join removed_links
        on removed_links.anonymous_id_reason = rules.reason
        or removed_links.user_id_reason = rules.reason
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
    left join ids_per_reason on ids_per_reason.reason = rules.reason
    left join edges_per_reason on edges_per_reason.reason = rules.reason

),

all_reasons as (

    select
        'all_reasons' as reason,
        5 as rule_order,
        'any rule' as rule,
        (select count(*) from excluded) as ids_excluded,
        (select count(*) from excluded where other_id_type = 'user_id') as user_ids_excluded,
        (select count(*) from excluded where other_id_type = 'anonymous_id') as anonymous_ids_excluded,
        (select count(*) from removed_links) as edges_removed

),

final as (

    select * from per_reason
    union all
    select * from all_reasons

)

select * from final
