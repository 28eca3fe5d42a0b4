with source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select
        trim(product_id) as product_id,
        nullif(trim(product_name), '') as product_name,
        nullif(lower(trim(product_style)), '') as product_style,
        nullif(lower(trim(product_color)), '') as product_color,
        nullif(lower(trim(canvas_group)), '') as canvas_group,
        coalesce(is_apparel, lower(trim(canvas_group)) = 'apparel') as is_apparel,
        _file_name as landed_file_name,
        _row_number as landed_row_number
    from source

),

final as (

    select * from renamed
    qualify row_number() over (
        partition by product_id order by landed_file_name desc, landed_row_number desc
    ) = 1

)

select * from final
