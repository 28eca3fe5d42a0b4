{#- The date recency features are measured from, as a SQL date literal. The DAG passes the run's
    logical date, so re-running a past date gives the same answer; unset (null/empty) means today.
    The value is validated because it is pasted into SQL. -#}
{% macro reference_date() -%}
    {%- set raw = var('reference_date', none) -%}
    {%- if raw is none or (raw | string | trim | lower) in ('', 'none', 'null') -%}
        current_date
    {%- else -%}
        {%- set value = raw | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
            {{ exceptions.raise_compiler_error("var reference_date must be 'YYYY-MM-DD', got '" ~ value ~ "'") }}
        {%- endif -%}
        cast('{{ value }}' as date)
    {%- endif -%}
{%- endmacro %}
