{#- A 64-bit float. dbt.type_float() is 64-bit on Snowflake (FLOAT) but maps to DuckDB's FLOAT,
    which is 32-bit and loses cents on revenue totals. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'c360')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return(dbt.type_float()) }}
{%- endmacro %}

{% macro duckdb__type_double() -%}
    {{ return('double') }}
{%- endmacro %}
