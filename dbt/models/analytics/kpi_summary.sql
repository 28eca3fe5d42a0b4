{#- Headline KPIs, one row per KPI with its target (seed kpi_targets) and a status:
    on_target when the value meets the target in its direction, near_target when it misses by no
    more than the seed's relative tolerance, off_target otherwise, no_target without a target.
    Every KPI the SQL computes appears even if the seed lacks it; seed rows the SQL does not
    compute are ignored. -#}
{%- set double = type_double() -%}
{%- set kpi_definitions = [
    ('total_customers', 'count', 'cast(total_customers as ' ~ double ~ ')'),
    ('active_customers', 'count', 'cast(active_customers as ' ~ double ~ ')'),
    ('active_customer_rate', 'ratio', safe_divide('active_customers', 'total_customers')),
    ('repeat_purchase_rate', 'ratio', safe_divide('repeat_buyers', 'buyers')),
    ('average_order_value_usd', 'usd', safe_divide('completed_revenue_usd', 'completed_orders')),
    ('total_revenue_usd', 'usd', 'cast(coalesce(completed_revenue_usd, 0) as ' ~ double ~ ')'),
    ('refund_rate', 'ratio', safe_divide('refunded_orders', 'completed_orders + refunded_orders')),
    ('coupon_usage_rate', 'ratio', safe_divide('coupon_orders', 'completed_orders')),
    ('at_risk_customer_share', 'ratio', safe_divide('at_risk_buyers', 'scored_buyers')),
] -%}

with customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

targets as (

    select * from {{ ref('kpi_targets') }}

),

customer_totals as (

    select
        count(*) as total_customers,
        count(case when is_active then 1 end) as active_customers,
        count(case when total_orders > 0 then 1 end) as buyers,
        count(case when is_repeat_buyer then 1 end) as repeat_buyers,
        max(reference_date) as reference_date
    from customers

),

order_totals as (

    select
        count(case when order_status = 'completed' then 1 end) as completed_orders,
        count(case when order_status = 'refunded' then 1 end) as refunded_orders,
        sum(case when order_status = 'completed' then revenue_usd else 0 end)
            as completed_revenue_usd,
        count(case when order_status = 'completed' and has_coupon then 1 end) as coupon_orders
    from orders

),

rfm_totals as (

    select
        count(*) as scored_buyers,
        count(case when rfm_segment in ('at_risk', 'cant_lose') then 1 end) as at_risk_buyers
    from rfm

),

totals as (

    select
        customer_totals.*,
        order_totals.*,
        rfm_totals.*
    from customer_totals
    cross join order_totals
    cross join rfm_totals

),

kpis as (
    {% for kpi_name, unit, expression in kpi_definitions %}
    select
        {{ loop.index }} as kpi_order,
        '{{ kpi_name }}' as kpi_name,
        '{{ unit }}' as unit,
        {{ expression }} as kpi_value,
        reference_date
    from totals
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (

    select
        kpis.kpi_order,
        kpis.kpi_name,
        kpis.unit,
        kpis.kpi_value,
        targets.target_value,
        targets.target_direction,
        targets.tolerance,
        case
            when targets.target_value is null or kpis.kpi_value is null then 'no_target'
            when targets.target_direction = 'at_least' and kpis.kpi_value >= targets.target_value
                then 'on_target'
            when targets.target_direction = 'at_most' and kpis.kpi_value <= targets.target_value
                then 'on_target'
            when
                abs(kpis.kpi_value - targets.target_value)
                <= targets.tolerance * abs(targets.target_value)
                then 'near_target'
            else 'off_target'
        end as status,
        targets.description,
        kpis.reference_date
    from kpis
    left join targets
        on kpis.kpi_name = targets.kpi_name

)

select * from final
