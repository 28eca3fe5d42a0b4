{#- Both SDKs land the same columns; one definition stages either (the base_rudderstack__identifies_*
    models, materialized latest_landed with unique_key event_id: the raw id as it landed). -#}
{% macro stage_identifies(source_table, sdk) %}
with source as (

    select * from {{ landed_rows(source('rudderstack', source_table), 'id') }}

),

renamed as (

    select
        id as event_id,
        '{{ sdk }}' as source_sdk,
        {{ clean_id('anonymous_id') }} as anonymous_id,
        {{ clean_id('user_id') }} as user_id,
        timestamp as event_at,
        received_at,
        {{ clean_string('context_traits_email') }} as email,
        {{ clean_string('context_library_name') }} as library_name,
        _file_name as landed_file_name,
        _row_number as landed_row_number,
        _file_sha256 as landed_file_sha256
    from source

),

{#- The loader quarantines an event id carrying different values; what repeats here is the
    same event delivered twice (at-least-once delivery), and one copy is kept. #}
final as (

    select * from renamed
    {{ keep_latest_landed('event_id') }}

)

select * from final
{% endmacro %}
