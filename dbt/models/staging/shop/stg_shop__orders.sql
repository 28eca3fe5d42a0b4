{{ config(materialized='latest_landed', unique_key='order_id') }}

with source as (

    select * from {{ landed_rows(source('shop', 'orders'), clean_id('order_id')) }}

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
        _row_number as landed_row_number,
        _file_sha256 as landed_file_sha256
    from source

),

final as (

    select
        order_id,
        user_id,
        status,
        ordered_at,
        revenue_usd,
        subtotal_usd,
        refund_amount_usd,
        coupon_code,
        landed_file_name,
        landed_row_number,
        coupon_code is not null as has_coupon,
        landed_file_sha256
    from renamed
    {{ keep_latest_landed('order_id') }}

)

select * from final
