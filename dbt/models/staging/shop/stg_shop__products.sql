{{ config(materialized='latest_landed', unique_key='product_id') }}

with source as (

    select * from {{ landed_rows(source('shop', 'products'), clean_id('product_id')) }}

),

renamed as (

    select
        {{ clean_id('product_id') }} as product_id,
        {{ clean_string('product_name') }} as product_name,
        lower({{ clean_string('product_style') }}) as product_style,
        lower({{ clean_string('product_color') }}) as product_color,
        lower({{ clean_string('canvas_group') }}) as canvas_group,
        coalesce(is_apparel, lower({{ clean_string('canvas_group') }}) = 'apparel') as is_apparel,
        _file_name as landed_file_name,
        _row_number as landed_row_number,
        _file_sha256 as landed_file_sha256
    from source

),

final as (

    select * from renamed
    {{ keep_latest_landed('product_id') }}

)

select * from final
