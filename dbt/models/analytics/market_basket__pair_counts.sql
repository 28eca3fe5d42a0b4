{{
    config(
        materialized='incremental',
        unique_key='order_month',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook=[
            "{% if is_incremental() %}
            delete from {{ this }} where order_month not in (
                select {{ basket_month('ordered_at') }}
                from {{ ref('fct_orders') }} where is_completed and line_count > 0
            )
        {% endif %}",
            "{{ log_touched('order_month', 'months') }}",
        ],
    )
}}
{#- The state of market_basket: basket counts per month of completed orders. Rows with
    product_a_id = product_b_id count the baskets holding that product (every product sold);
    rows with product_a_id < product_b_id count the baskets holding both, for the pairs of the
    covered products. Counts are additive over months, so market_basket sums them.

    A run recounts only the months whose completed orders changed: the months whose fingerprint
    (fct_orders' lines_fingerprint of each completed order with lines, which changes with any of
    its lines) differs from the stored one. Comparing with the table's own rows keeps this equal to
    a full build however old they are (each blue/green colour has its own).

    Covered products: a full build pairs the products in at least half the min support of baskets,
    so a product can gain share before it needs pairs it does not have. An incremental run keeps
    the stored covered set (the products of the stored pairs); when a product reaches min support
    outside it, every month is recounted with a new covered set. A first build is that case from an
    empty state. The post-hook drops the months without baskets any more. -#}
{%- set min_support = var('market_basket_min_support') | float -%}
{%- set state_columns = [
    'month_baskets', 'month_fingerprint', 'inputs_code_hash', 'dbt_invocation_id'
] -%}
{%- set code_hash = model_code_hash() -%}
{%- set incremental = is_incremental_with(state_columns, code_hash) -%}

with orders as (

    select * from {{ ref('fct_orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

{#- A basket is a completed order with lines. #}

current_months as (

    select
        {{ basket_month('ordered_at') }} as order_month,
        count(*) as month_baskets,
        {{ hash_sum(row_hash(['order_id', 'lines_fingerprint'])) }} as month_fingerprint
    from orders
    where is_completed and line_count > 0
    group by order_month

),

{#- The stored state is read directly in each CTE: DuckDB materializes a CTE read more than once,
    which would copy every stored row. Without a usable state, every month is recounted. #}
{% if incremental %}

stored_months as (

    select distinct
        order_month,
        month_fingerprint
    from {{ this }}

),

kept_months as (

    select current_months.order_month
    from current_months
    inner join stored_months
        on
            current_months.order_month = stored_months.order_month
            and current_months.month_fingerprint = stored_months.month_fingerprint

),

kept_product_baskets as (

    select
        product_a_id as product_id,
        baskets
    from {{ this }}
    where
        product_a_id = product_b_id
        and order_month in (select kept_months.order_month from kept_months)

),

stored_covered_products as (

    select product_a_id as product_id
    from {{ this }}
    where product_a_id < product_b_id
    union
    select product_b_id as product_id
    from {{ this }}
    where product_a_id < product_b_id

),
{%- else %}

kept_months as (

    select order_month
    from current_months
    where false

),

kept_product_baskets as (

    select
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_bigint() }}) as baskets
    from current_months
    where false

),

stored_covered_products as (

    select product_id
    from kept_product_baskets

),
{%- endif %}

changed_months as (

    select order_month
    from current_months
    where order_month not in (select kept_months.order_month from kept_months)

),

changed_month_lines as (

    select distinct
        {{ basket_month('ordered_at') }} as order_month,
        order_id,
        product_id
    from order_items
    where
        order_status = 'completed'
        and {{ basket_month('ordered_at') }}
        in (select changed_months.order_month from changed_months)

),

changed_product_baskets as (

    select
        order_month,
        product_id,
        count(*) as baskets
    from changed_month_lines
    group by order_month, product_id

),

product_baskets as (

    select
        product_id,
        sum(baskets) as baskets
    from (
        select
            product_id,
            baskets
        from kept_product_baskets
        union all
        select
            product_id,
            baskets
        from changed_product_baskets
    ) as month_products
    group by product_id

),

total_baskets as (

    select sum(month_baskets) as baskets
    from current_months

),

{#- A product at min support outside the stored covered set: recount every month. #}

uncovered_products as (

    select count(*) as products
    from product_baskets
    cross join total_baskets
    where
        product_baskets.baskets >= {{ min_support }} * total_baskets.baskets
        and product_baskets.product_id not in (
            select stored_covered_products.product_id from stored_covered_products
        )

),

covered_products as (

    select
        product_id,
        row_number() over (order by product_id) as product_number
    from (
        select stored_covered_products.product_id
        from stored_covered_products
        cross join uncovered_products
        where uncovered_products.products = 0
        union all
        select product_baskets.product_id
        from product_baskets
        cross join total_baskets
        cross join uncovered_products
        where
            uncovered_products.products > 0
            and product_baskets.baskets >= {{ min_support / 2 }} * total_baskets.baskets
    ) as covered

),

recounted_lines as (

    select * from changed_month_lines
    union all
    select distinct
        {{ basket_month('order_items.ordered_at') }} as order_month,
        order_items.order_id,
        order_items.product_id
    from order_items
    cross join uncovered_products
    where
        uncovered_products.products > 0
        and order_items.order_status = 'completed'
        and {{ basket_month('order_items.ordered_at') }}
        in (select kept_months.order_month from kept_months)

),

recounted_product_baskets as (

    select
        order_month,
        product_id as product_a_id,
        product_id as product_b_id,
        count(*) as baskets
    from recounted_lines
    group by order_month, product_id

),

{#- The pair join matches every two lines of a basket: on integer numbers for the orders and
    products it runs at about twice the speed of matching their string ids. #}

recounted_orders as (

    select
        order_id,
        row_number() over (order by order_id) as order_number
    from (select distinct order_id from recounted_lines) as orders

),

covered_lines as (

    select
        recounted_lines.order_month,
        recounted_orders.order_number,
        covered_products.product_number
    from recounted_lines
    inner join covered_products
        on recounted_lines.product_id = covered_products.product_id
    inner join recounted_orders
        on recounted_lines.order_id = recounted_orders.order_id

),

numbered_pairs as (

    select
        line_a.order_month,
        line_a.product_number as product_a_number,
        line_b.product_number as product_b_number,
        count(*) as baskets
    from covered_lines as line_a
    inner join covered_lines as line_b
        on
            line_a.order_number = line_b.order_number
            and line_a.product_number < line_b.product_number
    group by line_a.order_month, line_a.product_number, line_b.product_number

),

recounted_pairs as (

    select
        numbered_pairs.order_month,
        product_a.product_id as product_a_id,
        product_b.product_id as product_b_id,
        numbered_pairs.baskets
    from numbered_pairs
    inner join covered_products as product_a
        on numbered_pairs.product_a_number = product_a.product_number
    inner join covered_products as product_b
        on numbered_pairs.product_b_number = product_b.product_number

),

counts as (

    select * from recounted_product_baskets
    union all
    select * from recounted_pairs

),

final as (

    select
        counts.order_month,
        counts.product_a_id,
        counts.product_b_id,
        cast(counts.baskets as {{ dbt.type_bigint() }}) as baskets,
        cast(current_months.month_baskets as {{ dbt.type_bigint() }}) as month_baskets,
        current_months.month_fingerprint,
        '{{ code_hash }}' as inputs_code_hash,
        '{{ invocation_id }}' as dbt_invocation_id
    from counts
    inner join current_months
        on counts.order_month = current_months.order_month

)

select * from final
