{#- One row per catalogue product (product_id; sold products missing from the catalogue too):
    sales on completed orders, reach and ABC class.

    Customers are profiles (user_main_id). Lines bought by an id outside the identity graph
    (excluded ids) count in units and revenue but not as a customer.
    ABC: products ranked by revenue (ties by product_id); a product is A while the revenue of the
    products ranked above it is below 80 % of the total, B below 95 %, else C. The product that
    crosses 80 % is therefore still A, and the top seller is always A.

    Two incremental states carry the counts that need every line: orders per product are the
    baskets holding it (market_basket__pair_counts), and each profile's orders per product are
    in product_performance__customers. -#}
with order_items as (

    select * from {{ ref('fct_order_items') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

customer_products as (

    select * from {{ ref('product_performance__customers') }}

),

pair_counts as (

    select * from {{ ref('market_basket__pair_counts') }}

),

catalogue as (

    select
        product_id,
        max(product_name) as product_name,
        max(product_style) as product_style,
        max(product_color) as product_color,
        max(canvas_group) as canvas_group,
        max(case when is_apparel then 1 else 0 end) = 1 as is_apparel
    from products
    group by product_id

),

product_customers as (

    select
        product_id,
        count(*) as unique_customers,
        count(case when order_count > 1 then 1 end) as repeat_customers
    from customer_products
    group by product_id

),

{#- A product's orders are the baskets holding it. #}

product_baskets as (

    {{ basket_product_counts('pair_counts') }}

),

product_sales as (

    select
        product_id,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units_sold,
        sum(line_amount_usd) as revenue_usd
    from order_items
    where order_status = 'completed'
    group by product_id

),

buying_customers as (

    select count(distinct user_main_id) as customer_count
    from customer_products

),

joined as (

    select
        catalogue.product_id,
        catalogue.product_name,
        catalogue.product_style,
        catalogue.product_color,
        catalogue.canvas_group,
        catalogue.is_apparel,
        coalesce(product_sales.units_sold, 0) as units_sold,
        coalesce(product_sales.revenue_usd, 0) as revenue_usd,
        coalesce(product_baskets.baskets, 0) as order_count,
        coalesce(product_customers.unique_customers, 0) as unique_customers,
        coalesce(product_customers.repeat_customers, 0) as repeat_customers,
        buying_customers.customer_count as all_buying_customers
    from catalogue
    cross join buying_customers
    left join product_sales
        on catalogue.product_id = product_sales.product_id
    left join product_baskets
        on catalogue.product_id = product_baskets.product_id
    left join product_customers
        on catalogue.product_id = product_customers.product_id

),

ranked as (

    select
        *,
        {{ safe_divide('revenue_usd', 'sum(revenue_usd) over ()') }} as revenue_share,
        coalesce(
            {{ safe_divide(
                'sum(revenue_usd) over (order by revenue_usd desc, product_id asc'
                ~ ' rows between unbounded preceding and 1 preceding)',
                'sum(revenue_usd) over ()'
            ) }},
            0
        ) as revenue_share_ranked_above,
        row_number() over (order by revenue_usd desc, product_id asc) as revenue_rank,
        rank() over (
            partition by canvas_group order by revenue_usd desc
        ) as rank_in_canvas_group
    from joined

),

final as (

    select
        product_id,
        product_name,
        product_style,
        product_color,
        canvas_group,
        is_apparel,
        units_sold,
        revenue_usd,
        order_count,
        unique_customers,
        repeat_customers,
        coalesce(
            {{ safe_divide('repeat_customers', 'unique_customers') }}, 0
        ) as repeat_purchase_rate,
        coalesce(
            {{ safe_divide('unique_customers', 'all_buying_customers') }}, 0
        ) as customer_penetration,
        coalesce(revenue_share, 0) as revenue_share,
        least(1.0, coalesce(revenue_share_ranked_above, 0) + coalesce(revenue_share, 0))
            as cumulative_revenue_share,
        case
            when revenue_usd <= 0 then 'C'
            when revenue_share_ranked_above < 0.80 then 'A'
            when revenue_share_ranked_above < 0.95 then 'B'
            else 'C'
        end as abc_class,
        revenue_rank,
        rank_in_canvas_group
    from ranked

)

select * from final
