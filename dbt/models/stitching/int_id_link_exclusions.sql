{#- The one place where the entries of the stitch_link_exclusions seed meet the identify events:
    each entry (ids and event id cleaned as staging cleans them) with every identify event that
    carries its (anonymous_id, user_id) pair, and whether the entry matches that event - its
    event_id if set, valid_from / valid_to (both inclusive) if set; an event without a time never
    matches a time-limited entry. An entry whose pair no identify event carries keeps one row
    without an event, which a test refuses. int_id_links drops the events matched;
    stitch_link_exclusion_effect counts them per entry. #}
with entries as (

    select * from {{ ref('stitch_link_exclusions') }}

),

identifies as (

    select
        identify_event_key,
        source_sdk,
        event_id,
        anonymous_id,
        user_id,
        event_at
    from {{ ref('stg_rudderstack__identifies') }}

),

cleaned as (

    select
        {{ clean_id('anonymous_id') }} as anonymous_id,
        {{ clean_id('user_id') }} as user_id,
        {{ clean_id('event_id') }} as event_id,
        valid_from,
        valid_to,
        {{ clean_string('reason') }} as reason,
        {{ clean_string('decided_by') }} as decided_by,
        decided_at
    from entries

),

{#- the entry in words, as on-call wrote it: its ids, and its event and time range when set #}

named as (

    select
        anonymous_id,
        user_id,
        event_id,
        valid_from,
        valid_to,
        reason,
        decided_by,
        decided_at,
        'anonymous_id ''' || coalesce(anonymous_id, '') || ''', user_id '''
        || coalesce(user_id, '') || ''''
        || case when event_id is not null then ', event_id ''' || event_id || '''' else '' end
        || case
            when valid_from is not null
                then ', from ' || cast(valid_from as {{ dbt.type_string() }})
            else ''
        end
        || case
            when valid_to is not null
                then ', to ' || cast(valid_to as {{ dbt.type_string() }})
            else ''
        end as entry
    from cleaned

),

pair_events as (

    select
        named.entry,
        named.anonymous_id,
        named.user_id,
        named.event_id,
        named.valid_from,
        named.valid_to,
        named.reason,
        named.decided_by,
        named.decided_at,
        identifies.identify_event_key,
        identifies.source_sdk,
        identifies.event_id as identify_event_id,
        identifies.event_at as identify_event_at
    from named
    left join identifies
        on
            named.anonymous_id = identifies.anonymous_id
            and named.user_id = identifies.user_id

),

final as (

    select
        *,
        coalesce(
            identify_event_key is not null
            and (event_id is null or identify_event_id = event_id)
            and (valid_from is null or identify_event_at >= valid_from)
            and (valid_to is null or identify_event_at <= valid_to),
            false
        ) as is_match
    from pair_events

)

select * from final
