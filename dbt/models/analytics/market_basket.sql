{#- Product pairs bought together in the same completed order, with association measures.

    Support is a share of baskets (completed orders with lines). The counts come from
    market_basket__pair_counts, per month and additive: a product's baskets are the sum of its
    own rows, a pair's the sum of its rows. A pair can only reach min support if both of its
    products do, and the state pairs every such product. Pairs are unordered
    (product_a_id < product_b_id); confidence is given both ways. -#}
{%- set min_support = var('market_basket_min_support') | float -%}

with pair_counts as (

    select * from {{ ref('market_basket__pair_counts') }}

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

basket_count as (

    select cast(sum(month_baskets) as {{ dbt.type_bigint() }}) as total_baskets
    from (
        select distinct
            order_month,
            month_baskets
        from pair_counts
    ) as months

),

product_baskets as (

    {{ basket_product_counts('pair_counts') }}

),

frequent_products as (

    select
        product_baskets.product_id,
        product_baskets.baskets
    from product_baskets
    cross join basket_count
    where product_baskets.baskets >= {{ min_support }} * basket_count.total_baskets

),

pairs as (

    select
        pair_counts.product_a_id,
        pair_counts.product_b_id,
        cast(sum(pair_counts.baskets) as {{ dbt.type_bigint() }}) as pair_baskets
    from pair_counts
    inner join frequent_products as product_a
        on pair_counts.product_a_id = product_a.product_id
    inner join frequent_products as product_b
        on pair_counts.product_b_id = product_b.product_id
    where pair_counts.product_a_id < pair_counts.product_b_id
    group by pair_counts.product_a_id, pair_counts.product_b_id

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
