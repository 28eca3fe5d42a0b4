{#- What each entry of the stitch_link_exclusions seed did in this run, for on-call: how many
    identify events carry its pair and how many it matched, whether the link is now unused (every
    event of the pair matched by some entry) or still made by other events, and whether its two
    ids ended up in different profiles. One row per entry. #}
with link_exclusions as (

    select * from {{ ref('int_id_link_exclusions') }}

),

event_matches as (

    select
        anonymous_id,
        user_id,
        identify_event_key,
        is_match
    from {{ ref('int_id_link_exclusions') }}
    where identify_event_key is not null

),

anonymous_id_profiles as (

    select
        other_id,
        user_main_id
    from {{ ref('user_id_stitcher') }}
    where other_id_type = 'anonymous_id'

),

user_id_profiles as (

    select
        other_id,
        user_main_id
    from {{ ref('user_id_stitcher') }}
    where other_id_type = 'user_id'

),

per_entry as (

    select
        entry,
        anonymous_id,
        user_id,
        event_id,
        valid_from,
        valid_to,
        reason,
        decided_by,
        decided_at,
        count(identify_event_key) as pair_events,
        count(case when is_match then 1 end) as matched_events
    from link_exclusions
    group by
        entry,
        anonymous_id,
        user_id,
        event_id,
        valid_from,
        valid_to,
        reason,
        decided_by,
        decided_at

),

{#- an event of a pair is unmerged when any entry matches it #}

pair_event_matches as (

    select
        anonymous_id,
        user_id,
        identify_event_key,
        max(case when is_match then 1 else 0 end) as is_unmerged
    from event_matches
    group by anonymous_id, user_id, identify_event_key

),

pairs as (

    select
        anonymous_id,
        user_id,
        count(*) as pair_events,
        count(case when is_unmerged = 1 then 1 end) as unmerged_events
    from pair_event_matches
    group by anonymous_id, user_id

),

final as (

    select
        per_entry.entry,
        per_entry.anonymous_id,
        per_entry.user_id,
        per_entry.event_id,
        per_entry.valid_from,
        per_entry.valid_to,
        per_entry.reason,
        per_entry.decided_by,
        per_entry.decided_at,
        per_entry.pair_events,
        per_entry.matched_events,
        coalesce(pairs.unmerged_events, 0) as pair_unmerged_events,
        case
            when per_entry.matched_events = 0 then 'no_event_matched'
            when pairs.unmerged_events = pairs.pair_events then 'link_unmerged'
            else 'link_kept_by_other_events'
        end as effect,
        anonymous_id_profiles.user_main_id as anonymous_id_user_main_id,
        user_id_profiles.user_main_id as user_id_user_main_id,
        case
            when
                anonymous_id_profiles.user_main_id is not null
                and user_id_profiles.user_main_id is not null
                then anonymous_id_profiles.user_main_id = user_id_profiles.user_main_id
        end as in_one_profile,
        {{ sql_string_literal(var('airflow_run_id', '')) }} as airflow_run_id,
        {{ dbt.current_timestamp() }} as measured_at
    from per_entry
    left join pairs
        on
            per_entry.anonymous_id = pairs.anonymous_id
            and per_entry.user_id = pairs.user_id
    left join anonymous_id_profiles on per_entry.anonymous_id = anonymous_id_profiles.other_id
    left join user_id_profiles on per_entry.user_id = user_id_profiles.other_id

)

select * from final
