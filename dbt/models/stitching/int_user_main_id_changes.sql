{#- How this build renames the published graph's profiles: one row per (previous_user_main_id,
    user_main_id) pair whose ids moved. The publish task appends these rows to the kept history,
    stitching.user_main_id_changes, when (and only when) it publishes this build, so a system keyed
    by user_main_id can follow. A plain `dbt build` (no build colour) has no other graph to compare
    with and yields none. -#}
{%- set published = published_relation('stitching', 'user_id_stitcher') -%}

with current_graph as (

    select
        other_id,
        other_id_type,
        user_main_id
    from {{ ref('user_id_stitcher') }}

),

previous_graph as (

    select
        other_id,
        other_id_type,
        user_main_id
    from {{ published or ref('user_id_stitcher') }}
    where {{ 'true' if published else '1 = 0' }}

),

{#- Ids in both graphs; ids new to the graph or newly excluded rename no profile. #}

pairs as (

    select
        previous_graph.user_main_id as previous_user_main_id,
        current_graph.user_main_id,
        count(*) as ids
    from previous_graph
    inner join current_graph
        on
            previous_graph.other_id = current_graph.other_id
            and previous_graph.other_id_type = current_graph.other_id_type
    group by previous_graph.user_main_id, current_graph.user_main_id

),

fan_out as (

    select
        previous_user_main_id,
        count(*) as current_profiles
    from pairs
    group by previous_user_main_id

),

fan_in as (

    select
        user_main_id,
        count(*) as previous_profiles
    from pairs
    group by user_main_id

),

final as (

    select
        {{ sql_string_literal(var('airflow_run_id')) }} as run_id,
        pairs.previous_user_main_id,
        pairs.user_main_id,
        case
            when fan_out.current_profiles > 1 then 'split'
            when fan_in.previous_profiles > 1 then 'merged'
            else 'renamed'
        end as change,  -- noqa: RF04
        pairs.ids as ids_moved,
        current_timestamp as changed_at
    from pairs
    inner join fan_out
        on pairs.previous_user_main_id = fan_out.previous_user_main_id
    inner join fan_in
        on pairs.user_main_id = fan_in.user_main_id
    where pairs.previous_user_main_id <> pairs.user_main_id

)

select * from final
