{#- Post-hook of dim_customers__features: one log line saying how many profiles this invocation
    (re)computed, read back from the rows it stamped, so the figure is what was written rather
    than what was meant to be. Renders no SQL. -#}
{% macro log_touched_profiles() -%}
    {%- if execute -%}
        {%- set counts = run_query(
            "select count(case when dbt_invocation_id = '" ~ invocation_id ~ "' then 1 end), count(*) from "
            ~ this
        ) -%}
        {%- do log(
            this.identifier ~ ": " ~ counts.rows[0][0] ~ " of " ~ counts.rows[0][1] ~ " profiles touched",
            info=True
        ) -%}
    {%- endif -%}
{%- endmacro %}
