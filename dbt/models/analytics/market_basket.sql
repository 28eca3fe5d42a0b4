{#- Product pairs bought together in the same completed order, with association measures.

    Support is a share of baskets (completed orders with at least one line). A pair can only reach
    min support if both of its products do, so products below it are dropped before the pair
    self-join, which cuts the join to the few frequent products instead of all items squared.
    Pairs are unordered (product_a_id < product_b_id); confidence is given both ways. -#}
{%- set min_support = var('market_basket_min_support') | float -%}

with order_items as (

    select * from {{ ref('fct_order_items') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

product_names as (

    select distinct
        product_id,
        product_name
    from products

),

basket_lines as (

    select distinct
        order_id,
        product_id
    from order_items
    where order_status = 'completed'

),

basket_count as (

    select count(distinct order_id) as total_baskets
    from basket_lines

),

product_baskets as (

    select
        product_id,
        count(*) as baskets
    from basket_lines
    group by product_id

),

frequent_products as (

    select
        product_baskets.product_id,
        product_baskets.baskets
    from product_baskets
    cross join basket_count
    where product_baskets.baskets >= {{ min_support }} * basket_count.total_baskets

),

frequent_lines as (

    select
        basket_lines.order_id,
        basket_lines.product_id
    from basket_lines
    inner join frequent_products
        on basket_lines.product_id = frequent_products.product_id

),

pairs as (

    select
        line_a.product_id as product_a_id,
        line_b.product_id as product_b_id,
        count(*) as pair_baskets
    from frequent_lines as line_a
    inner join frequent_lines as line_b
        on
            line_a.order_id = line_b.order_id
            and line_a.product_id < line_b.product_id
    group by line_a.product_id, line_b.product_id

),

measured as (

    select
        pairs.product_a_id,
        pairs.product_b_id,
        pairs.pair_baskets,
        product_a.baskets as product_a_baskets,
        product_b.baskets as product_b_baskets,
        basket_count.total_baskets,
        cast(pairs.pair_baskets as {{ type_double() }}) / basket_count.total_baskets as support,
        cast(product_a.baskets as {{ type_double() }}) / basket_count.total_baskets
            as product_a_support,
        cast(product_b.baskets as {{ type_double() }}) / basket_count.total_baskets
            as product_b_support,
        cast(pairs.pair_baskets as {{ type_double() }}) / product_a.baskets as confidence_a_to_b,
        cast(pairs.pair_baskets as {{ type_double() }}) / product_b.baskets as confidence_b_to_a
    from pairs
    cross join basket_count
    inner join frequent_products as product_a
        on pairs.product_a_id = product_a.product_id
    inner join frequent_products as product_b
        on pairs.product_b_id = product_b.product_id
    where pairs.pair_baskets >= {{ min_support }} * basket_count.total_baskets

),

final as (

    select
        measured.product_a_id,
        product_a.product_name as product_a_name,
        measured.product_b_id,
        product_b.product_name as product_b_name,
        measured.pair_baskets,
        measured.product_a_baskets,
        measured.product_b_baskets,
        measured.total_baskets,
        measured.support,
        measured.product_a_support,
        measured.product_b_support,
        measured.confidence_a_to_b,
        measured.confidence_b_to_a,
        measured.support / (measured.product_a_support * measured.product_b_support) as lift
    from measured
    left join product_names as product_a
        on measured.product_a_id = product_a.product_id
    left join product_names as product_b
        on measured.product_b_id = product_b.product_id

)

select * from final
