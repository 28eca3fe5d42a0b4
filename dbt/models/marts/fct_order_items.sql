{{
    config(
        materialized='incremental',
        unique_key='order_item_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_vanished_rows('order_item_id', ref('stg_shop__order_items')) }}",
    )
}}
{#- Line items are append-only, but what a line carries is not: its order can be refunded later
    and a product re-categorised. An incremental run therefore (re)writes every line that is new
    or whose fingerprint changed, and the post-hook drops lines that left the source, so the table
    always equals a full refresh. -#}
{%- set fingerprinted = [
    'order_id', 'user_id', 'order_status', 'ordered_at', 'product_id', 'design_id', 'quantity',
    'unit_price_usd', 'product_name', 'product_style', 'product_color', 'canvas_group',
    'is_apparel', 'designer_id', 'theme', 'theme_genre',
] -%}

with order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

designs as (

    select * from {{ ref('stg_shop__designs') }}

),

{#- Left joins: an item whose order or product is missing upstream (flagged by staging's warn
    tests) is still a sale line; it just lacks that context. #}

joined as (

    select
        order_items.order_item_id,
        order_items.order_id,
        orders.user_id,
        orders.status as order_status,
        orders.ordered_at,
        order_items.product_id,
        order_items.design_id,
        order_items.quantity,
        order_items.unit_price_usd,
        order_items.line_amount_usd,
        products.product_name,
        products.product_style,
        products.product_color,
        products.canvas_group,
        products.is_apparel,
        designs.designer_id,
        designs.theme,
        designs.theme_genre
    from order_items
    left join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
    left join designs
        on order_items.design_id = designs.design_id

),

final as (

    select
        order_item_id,
        order_id,
        user_id,
        order_status,
        coalesce(order_status = 'completed', false) as is_completed_order,
        ordered_at,
        cast(ordered_at as date) as order_date,
        {{ dbt.hash(dbt.concat(["product_id", "'|'", "coalesce(design_id, '')"])) }}
            as product_design_key,
        product_id,
        design_id,
        quantity,
        unit_price_usd,
        line_amount_usd,
        product_name,
        product_style,
        product_color,
        canvas_group,
        is_apparel,
        designer_id,
        theme,
        theme_genre,
        {{ row_fingerprint(fingerprinted) }} as row_fingerprint
    from joined

)

select final.* from final
{% if is_incremental() %}
left join {{ this }} as already_loaded
    on final.order_item_id = already_loaded.order_item_id
where
    already_loaded.order_item_id is null
    or already_loaded.row_fingerprint <> final.row_fingerprint
{% endif %}
