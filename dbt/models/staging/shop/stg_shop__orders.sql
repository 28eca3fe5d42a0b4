with source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select
        {{ clean_id('order_id') }} as order_id,
        {{ clean_id('user_id') }} as user_id,
        lower({{ clean_string('status') }}) as status,
        ordered_at,
        revenue_usd,
        subtotal_usd,
        coalesce(refund_amount_usd, 0) as refund_amount_usd,
        {{ clean_string('coupon_code') }} as coupon_code,
        _file_name as landed_file_name,
        _row_number as landed_row_number
    from source

),

final as (

    select
        *,
        coupon_code is not null as has_coupon
    from renamed
    {{ keep_latest_landed('order_id') }}

)

select * from final
