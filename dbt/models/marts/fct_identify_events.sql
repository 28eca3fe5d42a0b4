{{
    config(
        materialized='incremental',
        unique_key='identify_event_key',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_vanished_rows(
            'identify_event_key', ref('stg_rudderstack__identifies')
        ) }}",
    )
}}
{#- Identify events never change once sent (the loader quarantines a re-sent event id carrying
    other values), so an incremental run only appends events it has not seen. The profile key is
    deliberately not stored: stitching is recomputed every run and would go stale here. E-mail is
    left out of the marts on purpose (PII). -#}

with identifies as (

    select * from {{ ref('stg_rudderstack__identifies') }}

),

final as (

    select
        identify_event_key,
        event_id,
        source_sdk,
        anonymous_id,
        user_id,
        event_at,
        cast(event_at as date) as event_date,
        received_at,
        library_name
    from identifies

)

select final.* from final
{% if is_incremental() %}
where
    not exists (
        select 1 as is_loaded from {{ this }} as already_loaded
        where already_loaded.identify_event_key = final.identify_event_key
    )
{% endif %}
