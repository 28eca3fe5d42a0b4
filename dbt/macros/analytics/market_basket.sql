{#- The month a basket counts in (market_basket__pair_counts' order_month): one definition for
    the recount, the stored months and the post-hook that drops vanished months. -#}
{% macro basket_month(timestamp_column) -%}
    cast({{ dbt.date_trunc('month', timestamp_column) }} as date)
{%- endmacro %}

{#- Baskets per product over all months, from market_basket__pair_counts' product rows
    (product_a_id = product_b_id): a select of product_id, baskets. -#}
{% macro basket_product_counts(pair_counts) -%}
    select
        product_a_id as product_id,
        cast(sum(baskets) as {{ dbt.type_bigint() }}) as baskets
    from {{ pair_counts }}
    where product_a_id = product_b_id
    group by product_a_id
{%- endmacro %}
