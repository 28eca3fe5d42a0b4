{{ config(materialized='view') }}
{#- Every user_id of the identity graph with the profile it belongs to: how orders, order lines
    and customers are mapped to a user_main_id. A view, a filter of the stitcher: each reader
    scans it as it scanned the stitcher before. #}
with stitcher as (

    select * from {{ ref('user_id_stitcher') }}

),

final as (

    select
        other_id as user_id,
        user_main_id
    from stitcher
    where other_id_type = 'user_id'

)

select * from final
