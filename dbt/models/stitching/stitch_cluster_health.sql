{#- One row of profile-size health figures for on-call and the data-quality gate (largest
    cluster, median size): a giant or fast-growing cluster usually means a filter missed a
    shared id. #}
with profile_sizes as (

    select * from {{ ref('int_profile_sizes') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

excluded_totals as (

    select count(*) as excluded_ids from excluded

),

profile_totals as (

    select
        count(*) as total_profiles,
        cast(coalesce(sum(id_count), 0) as {{ dbt.type_bigint() }}) as total_ids,
        coalesce(max(id_count), 0) as largest_cluster_size,
        avg(id_count) as avg_cluster_size,
        median(id_count) as median_cluster_size,
        count(case when id_count > 10 then 1 end) as clusters_over_10_ids,
        count(case when id_count > 50 then 1 end) as clusters_over_50_ids,
        count(case when id_count > 100 then 1 end) as clusters_over_100_ids,
        count(case when user_id_count > 1 then 1 end) as profiles_with_multiple_user_ids
    from profile_sizes

),

final as (

    select
        {{ sql_string_literal(var('airflow_run_id', '')) }} as airflow_run_id,
        profile_totals.*,
        excluded_totals.excluded_ids,
        {{ dbt.current_timestamp() }} as measured_at
    from profile_totals
    cross join excluded_totals

)

select * from final
