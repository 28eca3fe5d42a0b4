with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

user_id_profiles as (

    select * from {{ ref('int_user_id_profiles') }}

),

item_totals as (

    select
        order_id,
        count(*) as line_count,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as item_quantity,
        count(distinct product_id) as distinct_product_count,
        cast(
            sum(case when is_apparel then quantity else 0 end) as {{ dbt.type_bigint() }}
        ) as apparel_item_quantity,
        sum(line_amount_usd) as line_amount_usd,
        {{ hash_sum('line_content_hash') }} as lines_fingerprint
    from order_items
    group by order_id

),

{#- Coupon codes and refunds are cleaned once, in staging. #}

orders_enriched as (

    select
        orders.order_id,
        orders.user_id,
        user_id_profiles.user_main_id,
        orders.status as order_status,
        orders.status = 'completed' as is_completed,
        orders.ordered_at,
        cast(orders.ordered_at as date) as order_date,
        orders.revenue_usd,
        orders.subtotal_usd,
        orders.revenue_usd - orders.subtotal_usd as fees_usd,
        orders.refund_amount_usd,
        orders.coupon_code,
        orders.has_coupon,
        coalesce(item_totals.line_count, 0) as line_count,
        coalesce(item_totals.item_quantity, 0) as item_quantity,
        coalesce(item_totals.distinct_product_count, 0) as distinct_product_count,
        coalesce(item_totals.apparel_item_quantity, 0) as apparel_item_quantity,
        coalesce(item_totals.line_amount_usd, 0) as line_amount_usd,
        item_totals.lines_fingerprint
    from orders
    left join user_id_profiles
        on orders.user_id = user_id_profiles.user_id
    left join item_totals
        on orders.order_id = item_totals.order_id

),

{#- A profile's sequence spans all of its ids; ties on the timestamp are broken by order_id.
    Orders of ids outside the identity graph (excluded ids) have no profile and no sequence. #}

sequenced as (

    select
        *,
        case
            when user_main_id is not null
                then row_number() over (
                    partition by user_main_id order by ordered_at asc, order_id asc
                )
        end as customer_order_number,
        case
            when user_main_id is not null and is_completed
                then count(case when is_completed then 1 end) over (
                    partition by user_main_id order by ordered_at asc, order_id asc
                    rows between unbounded preceding and current row
                )
        end as completed_order_number,
        case
            when user_main_id is not null
                then max(case when is_completed then ordered_at end) over (
                    partition by user_main_id order by ordered_at asc, order_id asc
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
            as days_since_prior_order,
        lines_fingerprint
    from sequenced

)

select * from final
