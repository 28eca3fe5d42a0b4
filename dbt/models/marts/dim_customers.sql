{#- One row per customer profile: all ids sharing a user_main_id, for profiles holding at least
    one user_id (an anonymous-only profile is a visitor, not a customer). with_user_id repeats it
    on each of the profile's user_ids.

    The profile features are computed, incrementally, in dim_customers__features; this table adds
    only what depends on the reference date or the segment vars, so it is rebuilt in full every
    run at the cost of a projection. -#}
{%- set active_days = var('active_customer_days') | int -%}
{%- set high_value = var('high_value_customer_threshold') | float -%}
{%- set medium_value = var('medium_value_customer_threshold') | float -%}
{%- set favorite_attributes = [
    'theme', 'theme_genre', 'canvas_group', 'product_style', 'product_color'
] -%}

with profile_features as (

    select * from {{ ref('dim_customers__features') }}

),

dated as (

    select
        *,
        {{ reference_date() }} as reference_date
    from profile_features

),

features as (

    select
        *,
        coalesce(
            {{ safe_divide('lifetime_revenue_usd', 'total_orders') }}, 0
        ) as avg_order_value_usd,
        {{ dbt.datediff('last_order_date', 'reference_date', 'day') }}
            as days_since_last_order,
        {{ dbt.datediff('first_order_date', 'reference_date', 'day') }}
            as days_since_first_order,
        total_orders > 1 as is_repeat_buyer,
        total_coupon_orders > 0 as has_used_coupon
    from dated

),

segmented as (

    select
        *,
        coalesce(days_since_last_order <= {{ active_days }}, false) as is_active,
        lifetime_revenue_usd >= {{ high_value }} as is_high_value,
        case
            when total_orders = 0 then 'none'
            when lifetime_revenue_usd >= {{ high_value }} then 'high'
            when lifetime_revenue_usd >= {{ medium_value }} then 'medium'
            else 'low'
        end as value_tier,
        case
            when total_orders = 0 then 'prospect'
            when days_since_last_order > {{ active_days }} then 'lapsed'
            when total_orders = 1 then 'new'
            else 'repeat'
        end as lifecycle_stage
    from features

),

final as (

    select
        user_main_id,
        total_orders,
        total_order_items,
        lifetime_revenue_usd,
        lifetime_sales_subtotal_usd,
        avg_order_value_usd,
        first_order_date,
        last_order_date,
        days_since_last_order,
        days_since_first_order,
        is_repeat_buyer,
        total_refunded_orders,
        total_refund_amount_usd,
        total_cancelled_orders,
        total_coupon_orders,
        has_used_coupon,
        total_unique_products,
        total_unique_designers,
        {% for attribute in favorite_attributes -%}
        favorite_{{ attribute }},
        {% endfor -%}
        unique_themes_purchased,
        unique_theme_genres_purchased,
        unique_canvas_groups_purchased,
        total_apparel_items,
        total_non_apparel_items,
        count_user_ids,
        count_anonymous_ids,
        identify_event_count,
        has_web_activity,
        has_server_activity,
        first_seen_at,
        last_seen_at,
        is_active,
        case when is_active then 'active' else 'inactive' end as activity_status,
        is_high_value,
        value_tier,
        lifecycle_stage,
        reference_date
    from segmented

)

select * from final
