-- Every anonymous_id that keeps a link after the exclusions, with the user_ids it links: their
-- count, and the smallest user key, which stands for them all - they are in one profile. Read by
-- the components loop (anonymous_ids shared by several user_ids link those) and the stitcher (an
-- anonymous_id joins its owner's profile), so the links are filtered and grouped once.
with links as (

    select * from {{ ref('int_id_links') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

surviving_links as (

    select
        links.anonymous_key,
        links.user_key
    from links
    left join excluded as excluded_anonymous on excluded_anonymous.node_key = links.anonymous_key
    left join excluded as excluded_user on excluded_user.node_key = links.user_key
    where excluded_anonymous.node_key is null
        and excluded_user.node_key is null

),

final as (

    select
        anonymous_key,
        min(user_key) as owner_user_key,
        count(*) as user_id_count
    from surviving_links
    group by anonymous_key

)

select * from final
