{#- The contract feature view (shared/contracts/outputs.yml, marts.with_user_id): one row per
    user_id in the identity graph, carrying the features of its whole profile. The features are
    computed once per profile in dim_customers; this model only fans them out to the user_ids. -#}
with user_ids as (

    select * from {{ ref('int_user_id_profiles') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

final as (

    select
        user_ids.user_id,
        user_ids.user_main_id,
        customers.total_orders,
        customers.total_order_items,
        customers.lifetime_revenue_usd,
        customers.lifetime_sales_subtotal_usd,
        customers.avg_order_value_usd,
        customers.first_order_date,
        customers.last_order_date,
        customers.days_since_last_order,
        customers.is_repeat_buyer,
        customers.total_refund_amount_usd,
        customers.has_used_coupon,
        customers.total_unique_products,
        customers.total_unique_designers,
        customers.favorite_theme,
        customers.favorite_theme_genre,
        customers.favorite_canvas_group,
        customers.favorite_product_style,
        customers.favorite_product_color,
        customers.unique_themes_purchased,
        customers.unique_theme_genres_purchased,
        customers.unique_canvas_groups_purchased,
        customers.total_apparel_items,
        customers.total_non_apparel_items,
        customers.count_user_ids,
        customers.count_anonymous_ids,
        {#- extras beyond the contract #}
        customers.total_refunded_orders,
        customers.total_cancelled_orders,
        customers.identify_event_count,
        customers.has_web_activity,
        customers.has_server_activity,
        customers.first_seen_at,
        customers.last_seen_at,
        customers.is_active,
        customers.value_tier,
        customers.lifecycle_stage,
        customers.reference_date
    from user_ids
    inner join customers
        on user_ids.user_main_id = customers.user_main_id

)

select * from final
