-- One row of profile-size health figures for on-call and the data-quality gate (largest cluster,
-- median size): a giant or fast-growing cluster usually means a filter missed a shared id.
with stitcher as (

    select * from {{ ref('user_id_stitcher') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

cluster_sizes as (

    select
        user_main_id,
        count(*) as ids,
        count(case when other_id_type = 'user_id' then 1 end) as user_ids
    from stitcher
    group by user_main_id

),

excluded_totals as (

    select count(*) as excluded_ids from excluded

),

profile_totals as (

    select
        count(*) as total_profiles,
        cast(coalesce(sum(ids), 0) as {{ dbt.type_bigint() }}) as total_ids,
        coalesce(max(ids), 0) as largest_cluster_size,
        avg(ids) as avg_cluster_size,
        median(ids) as median_cluster_size,
        count(case when ids > 10 then 1 end) as clusters_over_10_ids,
        count(case when ids > 50 then 1 end) as clusters_over_50_ids,
        count(case when ids > 100 then 1 end) as clusters_over_100_ids,
        count(case when user_ids > 1 then 1 end) as profiles_with_multiple_user_ids
    from cluster_sizes

),

final as (

    select
        {{ stitch_string_literal(var('airflow_run_id', '')) }} as airflow_run_id,
        profile_totals.*,
        excluded_totals.excluded_ids,
        {{ dbt.current_timestamp() }} as measured_at
    from profile_totals
    cross join excluded_totals

)

select * from final
