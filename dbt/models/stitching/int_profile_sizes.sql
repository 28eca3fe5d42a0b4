{#- One row per profile of the identity graph with how many ids it holds, by type: the profile
    sizes that dim_customers, the stitching QA tables and the data-quality gate all read, counted
    once. A table: a group-by over every id, read by several models and the gate. #}
with stitcher as (

    select * from {{ ref('user_id_stitcher') }}

),

final as (

    select
        user_main_id,
        count(*) as id_count,
        count(case when other_id_type = 'user_id' then 1 end) as user_id_count,
        count(case when other_id_type = 'anonymous_id' then 1 end) as anonymous_id_count
    from stitcher
    group by user_main_id

)

select * from final
