{{ config(materialized='latest_landed', unique_key='design_id') }}

with source as (

    select * from {{ landed_rows(source('shop', 'designs'), clean_id('design_id')) }}

),

renamed as (

    select
        {{ clean_id('design_id') }} as design_id,
        {{ clean_id('designer_id') }} as designer_id,
        lower({{ clean_string('theme') }}) as theme,
        lower({{ clean_string('theme_genre') }}) as theme_genre,
        _file_name as landed_file_name,
        _row_number as landed_row_number,
        _file_sha256 as landed_file_sha256
    from source

),

final as (

    select * from renamed
    {{ keep_latest_landed('design_id') }}

)

select * from final
