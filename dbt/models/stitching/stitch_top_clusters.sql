{%- set top_n = var('stitch_qa_top_clusters', 100) | int -%}
{#- The largest profiles, biggest first: the first place to look when the largest cluster
    grows. #}
with stitcher as (

    select * from {{ ref('user_id_stitcher') }}

),

profile_sizes as (

    select * from {{ ref('int_profile_sizes') }}

),

largest as (

    select
        user_main_id,
        id_count as ids,
        user_id_count as user_ids,
        anonymous_id_count as anonymous_ids
    from profile_sizes
    order by id_count desc, user_main_id asc
    limit {{ top_n }}

),

{#- the smallest ids of the few listed profiles only, to start an investigation from #}

smallest_members as (

    select
        stitcher.user_main_id,
        min(case when stitcher.other_id_type = 'user_id' then stitcher.other_id end)
            as smallest_user_id,
        min(case when stitcher.other_id_type = 'anonymous_id' then stitcher.other_id end)
            as smallest_anonymous_id
    from stitcher
    inner join largest on stitcher.user_main_id = largest.user_main_id
    group by stitcher.user_main_id

),

final as (

    select
        row_number() over (order by largest.ids desc, largest.user_main_id asc) as cluster_rank,
        largest.user_main_id,
        largest.ids,
        largest.user_ids,
        largest.anonymous_ids,
        smallest_members.smallest_user_id,
        smallest_members.smallest_anonymous_id
    from largest
    inner join smallest_members on largest.user_main_id = smallest_members.user_main_id

)

select * from final
