with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

id_graph as (

    select * from {{ ref('user_id_stitcher') }}

),

profile_of_user_id as (

    select other_id as user_id, user_main_id
    from id_graph
    where other_id_type = 'user_id'

),

item_totals as (

    select
        order_id,
        count(*) as line_count,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as item_quantity,
        count(distinct product_id) as distinct_product_count,
        cast(sum(case when is_apparel then quantity else 0 end) as {{ dbt.type_bigint() }}) as apparel_item_quantity,
        sum(line_amount_usd) as line_amount_usd
    from order_items
    group by order_id

),

-- The coupon is re-cleaned here so a blank code can never count as a coupon, whatever staging does.
orders_enriched as (

    select
        orders.order_id,
        orders.user_id,
        profile_of_user_id.user_main_id,
        orders.status as order_status,
        orders.status = 'completed' as is_completed,
        orders.ordered_at,
        cast(orders.ordered_at as date) as order_date,
        orders.revenue_usd,
        orders.subtotal_usd,
        orders.revenue_usd - orders.subtotal_usd as fees_usd,
        coalesce(orders.refund_amount_usd, 0) as refund_amount_usd,
        nullif(trim(orders.coupon_code), '') as coupon_code,
        nullif(trim(orders.coupon_code), '') is not null as has_coupon,
        coalesce(item_totals.line_count, 0) as line_count,
        coalesce(item_totals.item_quantity, 0) as item_quantity,
        coalesce(item_totals.distinct_product_count, 0) as distinct_product_count,
        coalesce(item_totals.apparel_item_quantity, 0) as apparel_item_quantity,
        coalesce(item_totals.line_amount_usd, 0) as line_amount_usd
    from orders
    left join profile_of_user_id
        on orders.user_id = profile_of_user_id.user_id
    left join item_totals
        on orders.order_id = item_totals.order_id

),

-- A profile's sequence spans all of its ids; ties on the timestamp are broken by order_id.
-- Orders of ids outside the identity graph (excluded ids) have no profile and no sequence.
sequenced as (

    select
        *,
        case when user_main_id is not null then
            row_number() over (
                partition by user_main_id order by ordered_at, order_id
            )
        end as customer_order_number,
        case when user_main_id is not null and is_completed then
            count(case when is_completed then 1 end) over (
                partition by user_main_id order by ordered_at, order_id
                rows between unbounded preceding and current row
            )
        end as completed_order_number,
        case when user_main_id is not null then
            max(case when is_completed then ordered_at end) over (
                partition by user_main_id order by ordered_at, order_id
                rows between unbounded preceding and 1 preceding
            )
        end as prior_completed_order_at
    from orders_enriched

),

final as (

    select
        order_id,
        user_id,
        user_main_id,
        order_status,
        is_completed,
        ordered_at,
        order_date,
        revenue_usd,
        subtotal_usd,
        fees_usd,
        coupon_code,
        has_coupon,
        refund_amount_usd,
        line_count,
        item_quantity,
        distinct_product_count,
        apparel_item_quantity,
        line_amount_usd,
        customer_order_number,
        completed_order_number,
        {{ dbt.datediff('cast(prior_completed_order_at as date)', 'order_date', 'day') }}
            as days_since_prior_order
    from sequenced

)

select * from final
