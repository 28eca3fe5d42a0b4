{#- Every anonymous_id that keeps a link after the exclusions, with the count of its user_ids and
    the smallest user key, which stands for them all. Read by the components loop and the
    stitcher, so the links are filtered and grouped once; only the anonymous_ids linked to several
    user_ids are grouped. Each branch reads the links in its own import CTE, as DuckDB
    materializes a CTE read twice; a link unmerged by stitch_link_exclusions is not read. #}
with single_links as (

    select
        anonymous_key,
        user_key
    from {{ ref('int_id_links') }}
    where not is_unmerged

),

multiple_links as (

    select
        anonymous_key,
        user_key
    from {{ ref('int_id_links') }}
    where not is_unmerged

),

link_degrees as (

    select * from {{ ref('int_id_link_degrees') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

shared_anonymous_ids as (

    select node_key
    from link_degrees
    where other_id_type = 'anonymous_id'

),

single_user_owners as (

    select
        single_links.anonymous_key,
        single_links.user_key as owner_user_key,
        1 as user_id_count
    from single_links
    left join shared_anonymous_ids on single_links.anonymous_key = shared_anonymous_ids.node_key
    left join excluded as excluded_anonymous
        on single_links.anonymous_key = excluded_anonymous.node_key
    left join excluded as excluded_user
        on single_links.user_key = excluded_user.node_key
    where
        shared_anonymous_ids.node_key is null
        and excluded_anonymous.node_key is null
        and excluded_user.node_key is null

),

surviving_shared_links as (

    select
        multiple_links.anonymous_key,
        multiple_links.user_key
    from multiple_links
    inner join shared_anonymous_ids on multiple_links.anonymous_key = shared_anonymous_ids.node_key
    left join excluded as excluded_anonymous
        on multiple_links.anonymous_key = excluded_anonymous.node_key
    left join excluded as excluded_user
        on multiple_links.user_key = excluded_user.node_key
    where
        excluded_anonymous.node_key is null
        and excluded_user.node_key is null

),

shared_owners as (

    select
        anonymous_key,
        min(user_key) as owner_user_key,
        count(*) as user_id_count
    from surviving_shared_links
    group by anonymous_key

),

final as (

    select * from single_user_owners

    union all

    select * from shared_owners

)

select * from final
