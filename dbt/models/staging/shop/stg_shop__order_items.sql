{{ config(materialized='latest_landed', unique_key='order_item_id') }}

with source as (

    select * from {{ landed_rows(source('shop', 'order_items'), clean_id('order_item_id')) }}

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
        _row_number as landed_row_number,
        _file_sha256 as landed_file_sha256
    from source

),

final as (

    select
        order_item_id,
        order_id,
        product_id,
        design_id,
        quantity,
        unit_price_usd,
        landed_file_name,
        landed_row_number,
        quantity * unit_price_usd as line_amount_usd,
        landed_file_sha256
    from renamed
    {{ keep_latest_landed('order_item_id') }}

)

select * from final
