with identifies_js as (

    select * from {{ ref('stg_rudderstack__identifies_js') }}

),

identifies_ruby as (

    select * from {{ ref('stg_rudderstack__identifies_ruby') }}

),

unioned as (

    select * from identifies_js
    union all
    select * from identifies_ruby

),

final as (

    select
        source_sdk || ':' || event_id as identify_event_key,
        *
    from unioned

)

select * from final
