{#- Every entry of stitch_link_exclusions (one row per entry and identify event of its pair in
    int_id_link_exclusions) names a link that exists: its (anonymous_id, user_id) pair occurs in
    an identify event, and so does its event_id, when set, with that pair. Fails with one row per
    entry that does not: the entry in words and the problem. -#}
{% test link_exclusions_known(model) %}
select
    entry,
    case
        when count(identify_event_key) = 0
            then 'its (anonymous_id, user_id) pair occurs in no identify event'
                || ' of staging.stg_rudderstack__identifies'
        else 'its event_id is not an identify event of this (anonymous_id, user_id) pair'
    end as problem
from {{ model }}
group by entry, event_id
having
    count(identify_event_key) = 0
    or (event_id is not null and count(case when identify_event_id = event_id then 1 end) = 0)
{% endtest %}
