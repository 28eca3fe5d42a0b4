{#- The ids linked to more than one id of the other type, and to how many, before any
    exclusion: counted once for the link rules (excluded_ids) and the bridge report
    (stitch_bridge_ids). Ids linked once are left out, as nothing reads them. One import CTE a
    column, as DuckDB materializes a CTE read twice. #}
with anonymous_links as (

    select anonymous_key from {{ ref('int_id_links') }}

),

user_links as (

    select user_key from {{ ref('int_id_links') }}

),

anonymous_id_degrees as (

    select
        anonymous_key as node_key,
        'anonymous_id' as other_id_type,
        count(*) as linked_ids
    from anonymous_links
    group by anonymous_key
    having count(*) > 1

),

user_id_degrees as (

    select
        user_key as node_key,
        'user_id' as other_id_type,
        count(*) as linked_ids
    from user_links
    group by user_key
    having count(*) > 1

),

final as (

    select * from anonymous_id_degrees

    union all

    select * from user_id_degrees

)

select * from final
