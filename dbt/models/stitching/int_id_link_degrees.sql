-- The ids linked to more than one id of the other type, and to how many, before any exclusion:
-- the counts the link rules (excluded_ids) and the bridge report (stitch_bridge_ids) both read,
-- counted once. An id linked once is left out - no rule or report looks at it - which keeps this
-- to a fraction of the nodes.
-- one import CTE a column: DuckDB materializes a CTE read twice, copying 10M links
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
