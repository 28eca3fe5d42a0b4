with source as (

    select * from {{ source('shop', 'order_items') }}

),

renamed as (

    select
        {{ clean_id('order_item_id') }} as order_item_id,
        {{ clean_id('order_id') }} as order_id,
        {{ clean_id('product_id') }} as product_id,
        {{ clean_id('design_id') }} as design_id,
        quantity,
        unit_price_usd,
        _file_name as landed_file_name,
        _row_number as landed_row_number
    from source

),

final as (

    select
        *,
        quantity * unit_price_usd as line_amount_usd
    from renamed
    {{ keep_latest_landed('order_item_id') }}

)

select * from final
