{{
    config(
        materialized='latest_landed',
        unique_key='identify_event_key',
        landed_sources=['identifies_js', 'identifies_ruby'],
        landed_source_of_row="'identifies_' || source_sdk",
    )
}}
{#- The base models hold one row per event id and SDK, so this union holds one per key: nothing to
    de-duplicate. Incremental runs read the base rows of the affected keys only (landed_rows). -#}
{%- set identify_event_key = "source_sdk || ':' || event_id" -%}

with identifies_js as (

    select * from {{
        landed_rows(ref('base_rudderstack__identifies_js'), identify_event_key, 'identifies_js')
    }}

),

identifies_ruby as (

    select * from {{
        landed_rows(ref('base_rudderstack__identifies_ruby'), identify_event_key, 'identifies_ruby')
    }}

),

unioned as (

    select * from identifies_js
    union all
    select * from identifies_ruby

),

final as (

    select
        {{ identify_event_key }} as identify_event_key,
        event_id,
        source_sdk,
        anonymous_id,
        user_id,
        event_at,
        received_at,
        email,
        library_name,
        landed_file_name,
        landed_row_number,
        landed_file_sha256
    from unioned

)

select * from final
