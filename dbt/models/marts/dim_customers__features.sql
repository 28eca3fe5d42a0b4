{{
    config(
        materialized='incremental',
        unique_key='user_main_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook=[
            "{{ delete_vanished_rows('user_main_id', ref('int_user_id_profiles')) }}",
            "{{ log_touched('user_main_id', 'profiles') }}",
        ],
    )
}}
{#- The state of dim_customers: per customer profile, every feature that does not depend on the
    reference date or the segment vars, and the fingerprint of everything those features read.

    An incremental run recomputes only the touched profiles: new ones, and those whose fingerprint
    differs from the stored one (new, changed or withdrawn orders, lines or identify events, a
    re-categorised product or design, ids joining or leaving the profile, or a change of the
    code of this model or of one it reads); the post-hook drops profiles that vanished. Comparing with the model's own
    stored rows, never with what other models say changed, keeps this equal to a full rebuild
    however old the stored rows are (each blue/green colour has its own).

    Rules: order facts count completed orders only; refunds come from refunded orders; favourites
    are by items bought on completed orders, ties broken by the alphabetically first value. A
    profile without completed orders keeps its row: counts and amounts 0, dates and favourites
    null. -#}
{%- set favorite_attributes = [
    'theme', 'theme_genre', 'canvas_group', 'product_style', 'product_color'
] -%}
{%- set counted_attributes = ['product_id', 'designer_id'] + favorite_attributes -%}
{#- The columns of each input the fingerprint hashes: every column the features read. A profile's
    lines are its orders' lines (a line's user_id is its order's), so they enter as the order's
    lines_fingerprint (fct_orders: the exact sum of the hash fct_order_items stores with each line
    as it writes it), for completed orders only, as the features read: no line is read here. #}
{%- set order_columns = [
    'orders.order_id', 'orders.order_status', 'orders.ordered_at', 'orders.revenue_usd',
    'orders.subtotal_usd', 'orders.refund_amount_usd', 'orders.has_coupon',
    "case when orders.order_status = 'completed' then orders.lines_fingerprint end",
] -%}
{%- set event_columns = [
    'profile_events.identify_event_key', 'profile_events.event_at', 'profile_events.source_sdk'
] -%}
{#- A change of this model's code, or of a model it reads, changes every fingerprint, so every
    profile is recomputed. #}
{%- set code_hash = model_code_hash() -%}

with id_graph as (

    select * from {{ ref('user_id_stitcher') }}

),

profile_sizes as (

    select * from {{ ref('int_profile_sizes') }}

),

user_id_profiles as (

    select * from {{ ref('int_user_id_profiles') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

identify_events as (

    select * from {{ ref('fct_identify_events') }}

),

profiles as (

    select
        user_main_id,
        user_id_count as count_user_ids,
        anonymous_id_count as count_anonymous_ids
    from profile_sizes
    where user_id_count > 0

),

profile_of_user_id as (

    select
        user_id_profiles.user_id,
        profiles.user_main_id
    from user_id_profiles
    inner join profiles
        on user_id_profiles.user_main_id = profiles.user_main_id

),

profile_of_anonymous_id as (

    select
        other_id as anonymous_id,
        user_main_id
    from id_graph
    where other_id_type = 'anonymous_id'

),

{#- Facts are mapped to profiles here rather than trusting a stored profile key, so every
    feature follows the identity graph of this run. An event goes to its user_id's profile, else
    to its anonymous_id's: attributed once, with the whole graph, for the fingerprint and the
    features alike. #}

profile_events as (

    select
        coalesce(by_user_id.user_main_id, by_anonymous_id.user_main_id) as user_main_id,
        identify_events.identify_event_key,
        identify_events.event_at,
        identify_events.source_sdk
    from identify_events
    left join profile_of_user_id as by_user_id
        on identify_events.user_id = by_user_id.user_id
    left join profile_of_anonymous_id as by_anonymous_id
        on identify_events.anonymous_id = by_anonymous_id.anonymous_id
    where coalesce(by_user_id.user_main_id, by_anonymous_id.user_main_id) is not null

),

{#- One hash per input row of a profile, tagged by input so equal values of two inputs differ:
    its ids, its orders (with their lines' fingerprint) and its identify events. #}

input_hashes as (

    select
        user_main_id,
        {{ row_hash(["'id'", 'other_id_type', 'other_id']) }} as row_hash
    from id_graph

    union all

    select
        profile_of_user_id.user_main_id,
        {{ row_hash(["'order'"] + order_columns) }} as row_hash
    from orders
    inner join profile_of_user_id
        on orders.user_id = profile_of_user_id.user_id

    union all

    select
        user_main_id,
        {{ row_hash(["'event'"] + event_columns) }} as row_hash
    from profile_events

),

{#- The exact sum of the row hashes: independent of row order (hash_sum). #}

fingerprints as (

    select
        user_main_id,
        '{{ code_hash }}:' || {{ hash_sum('row_hash') }} as inputs_fingerprint
    from input_hashes
    group by user_main_id

),

touched_profiles as (

    select
        profiles.user_main_id,
        profiles.count_user_ids,
        profiles.count_anonymous_ids,
        fingerprints.inputs_fingerprint
    from profiles
    inner join fingerprints
        on profiles.user_main_id = fingerprints.user_main_id
    {% if is_incremental() -%}
    left join {{ this }} as stored_rows
        on profiles.user_main_id = stored_rows.user_main_id
    where
        stored_rows.user_main_id is null
        or stored_rows.inputs_fingerprint <> fingerprints.inputs_fingerprint
    {%- endif %}

),

{#- From here on only touched profiles: the mapping is narrowed before it meets the facts. The
    heavy aggregates over order lines group by customer_key, a small integer, not the long id. #}

customers as (

    select
        *,
        row_number() over (order by user_main_id) as customer_key
    from touched_profiles

),

customer_of_user_id as (

    select
        profile_of_user_id.user_id,
        customers.user_main_id,
        customers.customer_key
    from profile_of_user_id
    inner join customers
        on profile_of_user_id.user_main_id = customers.user_main_id

),

customer_orders as (

    select
        customer_of_user_id.user_main_id,
        orders.order_status,
        orders.ordered_at,
        cast(orders.ordered_at as date) as order_date,
        orders.revenue_usd,
        orders.subtotal_usd,
        orders.refund_amount_usd,
        orders.has_coupon
    from orders
    inner join customer_of_user_id
        on orders.user_id = customer_of_user_id.user_id

),

customer_items as (

    select
        customer_of_user_id.customer_key,
        order_items.product_id,
        order_items.designer_id,
        order_items.theme,
        order_items.theme_genre,
        order_items.canvas_group,
        order_items.product_style,
        order_items.product_color,
        order_items.is_apparel,
        order_items.quantity
    from order_items
    inner join customer_of_user_id
        on order_items.user_id = customer_of_user_id.user_id
    where order_items.order_status = 'completed'

),

customer_events as (

    select profile_events.*
    from profile_events
    inner join customers
        on profile_events.user_main_id = customers.user_main_id

),

order_features as (

    select
        user_main_id,
        count(case when order_status = 'completed' then 1 end) as total_orders,
        sum(case when order_status = 'completed' then revenue_usd else 0 end)
            as lifetime_revenue_usd,
        sum(case when order_status = 'completed' then subtotal_usd else 0 end)
            as lifetime_sales_subtotal_usd,
        min(case when order_status = 'completed' then order_date end) as first_order_date,
        max(case when order_status = 'completed' then order_date end) as last_order_date,
        count(case when order_status = 'refunded' then 1 end) as total_refunded_orders,
        sum(case when order_status = 'refunded' then refund_amount_usd else 0 end)
            as total_refund_amount_usd,
        count(case when order_status = 'cancelled' then 1 end) as total_cancelled_orders,
        count(case when order_status = 'completed' and has_coupon then 1 end)
            as total_coupon_orders,
        min(ordered_at) as first_order_placed_at,
        max(ordered_at) as last_order_placed_at
    from customer_orders
    group by user_main_id

),

{#- One aggregate per attribute, on the integer customer_key: a single pass with grouping sets
    over all attributes, keyed by the long user_main_id, was much slower (docs/benchmarks.md). #}
{% for attribute in counted_attributes %}
{{ attribute }}_quantities as (

    select
        customer_key,
        {{ attribute }} as attribute_value,
        sum(quantity) as quantity
    from customer_items
    where {{ attribute }} is not null
    group by customer_key, {{ attribute }}

),

{{ attribute }}_stats as (

    select
        customer_key,
        count(*) as distinct_values,
        max(quantity) as top_quantity
    from {{ attribute }}_quantities
    group by customer_key

),
{% endfor %}
{#- The favourite is the value bought in the largest quantity; min() breaks ties
    alphabetically. #}
{%- for attribute in favorite_attributes %}
favorite_{{ attribute }} as (

    select
        {{ attribute }}_quantities.customer_key,
        min({{ attribute }}_quantities.attribute_value) as favorite_{{ attribute }}
    from {{ attribute }}_quantities
    inner join {{ attribute }}_stats
        on
            {{ attribute }}_quantities.customer_key = {{ attribute }}_stats.customer_key
            and {{ attribute }}_quantities.quantity = {{ attribute }}_stats.top_quantity
    group by {{ attribute }}_quantities.customer_key

),
{% endfor %}
item_totals as (

    select
        customer_key,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as total_order_items,
        cast(
            sum(case when is_apparel then quantity else 0 end) as {{ dbt.type_bigint() }}
        ) as total_apparel_items
    from customer_items
    group by customer_key

),

item_features as (

    select
        item_totals.customer_key,
        item_totals.total_order_items,
        product_id_stats.distinct_values as total_unique_products,
        designer_id_stats.distinct_values as total_unique_designers,
        theme_stats.distinct_values as unique_themes_purchased,
        theme_genre_stats.distinct_values as unique_theme_genres_purchased,
        canvas_group_stats.distinct_values as unique_canvas_groups_purchased,
        item_totals.total_apparel_items,
        {% for attribute in favorite_attributes -%}
        favorite_{{ attribute }}.favorite_{{ attribute }},
        {% endfor -%}
        {#- a product missing from the catalogue counts as non-apparel, so the two add up #}
        item_totals.total_order_items - item_totals.total_apparel_items as total_non_apparel_items
    from item_totals
    {% for attribute in counted_attributes -%}
    left join {{ attribute }}_stats
        on item_totals.customer_key = {{ attribute }}_stats.customer_key
    {% endfor -%}
    {% for attribute in favorite_attributes -%}
    left join favorite_{{ attribute }}
        on item_totals.customer_key = favorite_{{ attribute }}.customer_key
    {% endfor %}
),

activity_features as (

    select
        user_main_id,
        count(*) as identify_event_count,
        min(event_at) as first_identified_at,
        max(event_at) as last_identified_at,
        max(case when source_sdk = 'js' then 1 else 0 end) = 1 as has_web_activity,
        max(case when source_sdk = 'ruby' then 1 else 0 end) = 1 as has_server_activity
    from customer_events
    group by user_main_id

),

final as (

    select
        customers.user_main_id,
        coalesce(order_features.total_orders, 0) as total_orders,
        coalesce(item_features.total_order_items, 0) as total_order_items,
        coalesce(order_features.lifetime_revenue_usd, 0) as lifetime_revenue_usd,
        coalesce(order_features.lifetime_sales_subtotal_usd, 0) as lifetime_sales_subtotal_usd,
        order_features.first_order_date,
        order_features.last_order_date,
        coalesce(order_features.total_refunded_orders, 0) as total_refunded_orders,
        coalesce(order_features.total_refund_amount_usd, 0) as total_refund_amount_usd,
        coalesce(order_features.total_cancelled_orders, 0) as total_cancelled_orders,
        coalesce(order_features.total_coupon_orders, 0) as total_coupon_orders,
        coalesce(item_features.total_unique_products, 0) as total_unique_products,
        coalesce(item_features.total_unique_designers, 0) as total_unique_designers,
        {% for attribute in favorite_attributes -%}
        item_features.favorite_{{ attribute }},
        {% endfor -%}
        coalesce(item_features.unique_themes_purchased, 0) as unique_themes_purchased,
        coalesce(item_features.unique_theme_genres_purchased, 0) as unique_theme_genres_purchased,
        coalesce(item_features.unique_canvas_groups_purchased, 0) as unique_canvas_groups_purchased,
        coalesce(item_features.total_apparel_items, 0) as total_apparel_items,
        coalesce(item_features.total_non_apparel_items, 0) as total_non_apparel_items,
        customers.count_user_ids,
        customers.count_anonymous_ids,
        coalesce(activity_features.identify_event_count, 0) as identify_event_count,
        coalesce(activity_features.has_web_activity, false) as has_web_activity,
        coalesce(activity_features.has_server_activity, false) as has_server_activity,
        {#- Earliest/latest sign of the profile: an identify event or an order of any status;
            least/greatest of two coalesces, as Snowflake's least() is null if any input is. #}
        least(
            coalesce(activity_features.first_identified_at, order_features.first_order_placed_at),
            coalesce(order_features.first_order_placed_at, activity_features.first_identified_at)
        ) as first_seen_at,
        greatest(
            coalesce(activity_features.last_identified_at, order_features.last_order_placed_at),
            coalesce(order_features.last_order_placed_at, activity_features.last_identified_at)
        ) as last_seen_at,
        customers.inputs_fingerprint,
        {#- which invocation computed the row: for the log line and on-call, never for logic #}
        '{{ invocation_id }}' as dbt_invocation_id
    from customers
    left join order_features
        on customers.user_main_id = order_features.user_main_id
    left join item_features
        on customers.customer_key = item_features.customer_key
    left join activity_features
        on customers.user_main_id = activity_features.user_main_id

)

select * from final
