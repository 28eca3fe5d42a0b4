-- The edges of the identity graph: links whose both ends survived the exclusions.
with links as (

    select * from {{ ref('int_id_links') }}

),

excluded as (

    select * from {{ ref('excluded_ids') }}

),

final as (

    select links.anonymous_id, links.user_id
    from links
    where not exists (
        select 1 from excluded
        where excluded.other_id_type = 'anonymous_id' and excluded.other_id = links.anonymous_id
    )
    and not exists (
        select 1 from excluded
        where excluded.other_id_type = 'user_id' and excluded.other_id = links.user_id
    )

)

select * from final
