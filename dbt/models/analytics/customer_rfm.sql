{#- Recency / frequency / monetary scores, segments and churn risk for every buying profile.

    Score rule (scale-free, tie-safe): a customer's score on a measure is
        least(5, 1 + floor(5 * percent_rank))
    over all buyers, where percent_rank is the share of OTHER buyers with a strictly worse value
    (recency: more days since the last order; frequency: fewer completed orders; monetary: less
    lifetime revenue). So the quintile of the data a customer falls in gives the score, equal
    values always get equal scores (ntile() would split them arbitrarily), the worst value always
    scores 1, and the cut-offs move with the data instead of collapsing at another scale. -#}
{%- set active_days = var('active_customer_days') | int -%}

with customers as (

    select * from {{ ref('dim_customers') }}

),

buyers as (

    select
        user_main_id,
        days_since_last_order as recency_days,
        total_orders as frequency_orders,
        lifetime_revenue_usd as monetary_usd,
        last_order_date,
        reference_date
    from customers
    where total_orders > 0

),

ranked as (

    select
        *,
        percent_rank() over (order by recency_days desc) as recency_percent_rank,
        percent_rank() over (order by frequency_orders) as frequency_percent_rank,
        percent_rank() over (order by monetary_usd) as monetary_percent_rank
    from buyers

),

scored as (

    select
        *,
        cast(least(5, 1 + floor(5 * recency_percent_rank)) as integer) as recency_score,
        cast(least(5, 1 + floor(5 * frequency_percent_rank)) as integer) as frequency_score,
        cast(least(5, 1 + floor(5 * monetary_percent_rank)) as integer) as monetary_score
    from ranked

),

{#- First matching rule wins. A one-order customer scores frequency 1 (the lowest frequency in
    the data), so it can only be new, a potential loyalist, hibernating or lost. #}

segmented as (

    select
        *,
        case
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4
                then 'champions'
            when recency_score >= 3 and frequency_score >= 3 and monetary_score >= 3
                then 'loyal'
            when recency_score >= 4 and frequency_orders = 1 then 'new'
            when recency_score >= 3 then 'potential_loyalists'
            when frequency_score >= 4 and monetary_score >= 4 then 'cant_lose'
            when frequency_score >= 3 or monetary_score >= 3 then 'at_risk'
            when recency_score = 2 then 'hibernating'
            else 'lost'
        end as rfm_segment
    from scored

),

final as (

    select
        user_main_id,
        recency_days,
        frequency_orders,
        monetary_usd,
        last_order_date,
        recency_score,
        frequency_score,
        monetary_score,
        cast(recency_score as {{ dbt.type_string() }})
        || cast(frequency_score as {{ dbt.type_string() }})
        || cast(monetary_score as {{ dbt.type_string() }}) as rfm_cell,
        rfm_segment,
        {#- churn risk is business time, not a quantile, so the share at risk means the same
            at every scale #}
        case
            when recency_days > 2 * {{ active_days }} then 'high'
            when recency_days > {{ active_days }} then 'medium'
            else 'low'
        end as churn_risk_band,
        case rfm_segment
            when 'champions' then 'Reward: early access, referral programme; no discounts needed'
            when 'loyal' then 'Upsell higher-value products; invite to loyalty tier'
            when 'potential_loyalists'
                then 'Nurture with recommendations from their favourite themes'
            when 'new' then 'Onboard: welcome series and a second-purchase incentive'
            when 'at_risk' then 'Win back with personalised offers before they lapse'
            when 'cant_lose' then 'Reach out personally; strongest win-back offer'
            when 'hibernating' then 'Re-engage with bestsellers and a time-limited coupon'
            when 'lost' then 'Low-cost reactivation only; exclude from paid campaigns'
        end as recommended_action,
        reference_date
    from segmented

)

select * from final
