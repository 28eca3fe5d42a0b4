with source as (

    select * from {{ source('shop', 'designs') }}

),

renamed as (

    select
        {{ clean_id('design_id') }} as design_id,
        {{ clean_id('designer_id') }} as designer_id,
        lower({{ clean_string('theme') }}) as theme,
        lower({{ clean_string('theme_genre') }}) as theme_genre,
        _file_name as landed_file_name,
        _row_number as landed_row_number
    from source

),

final as (

    select * from renamed
    {{ keep_latest_landed('design_id') }}

)

select * from final
