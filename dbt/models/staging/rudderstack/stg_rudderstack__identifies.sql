with identifies_js as (

    select * from {{ ref('base_rudderstack__identifies_js') }}

),

identifies_ruby as (

    select * from {{ ref('base_rudderstack__identifies_ruby') }}

),

unioned as (

    select * from identifies_js
    union all
    select * from identifies_ruby

),

final as (

    select
        source_sdk || ':' || event_id as identify_event_key,
        event_id,
        source_sdk,
        anonymous_id,
        user_id,
        event_at,
        received_at,
        email,
        library_name,
        landed_file_name,
        landed_row_number
    from unioned

)

select * from final
