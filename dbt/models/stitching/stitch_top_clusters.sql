{%- set top_n = var('stitch_qa_top_clusters', 100) | int -%}
-- The largest profiles, biggest first: the first place to look when the largest cluster grows.
with stitcher as (

    select * from {{ ref('user_id_stitcher') }}

),

cluster_sizes as (

    select
        user_main_id,
        count(*) as ids,
        count(case when other_id_type = 'user_id' then 1 end) as user_ids,
        count(case when other_id_type = 'anonymous_id' then 1 end) as anonymous_ids
    from stitcher
    group by user_main_id

),

largest as (

    select *
    from cluster_sizes
    order by ids desc, user_main_id
    limit {{ top_n }}

),

-- the smallest ids of the few listed profiles only, to start an investigation from
smallest_members as (

    select
        stitcher.user_main_id,
        min(case when stitcher.other_id_type = 'user_id' then stitcher.other_id end) as smallest_user_id,
        min(case when stitcher.other_id_type = 'anonymous_id' then stitcher.other_id end) as smallest_anonymous_id
    from stitcher
    inner join largest on largest.user_main_id = stitcher.user_main_id
    group by stitcher.user_main_id

),

final as (

    select
        row_number() over (order by largest.ids desc, largest.user_main_id) as cluster_rank,
        largest.user_main_id,
        largest.ids,
        largest.user_ids,
        largest.anonymous_ids,
        smallest_members.smallest_user_id,
        smallest_members.smallest_anonymous_id
    from largest
    inner join smallest_members on smallest_members.user_main_id = largest.user_main_id

)

select * from final
