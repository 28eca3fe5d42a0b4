{#- A SQL string literal for any value a macro writes into SQL (patterns, run ids, dbt messages).
    Snowflake also treats the backslash as an escape character inside quotes, DuckDB does not. -#}
{% macro sql_string_literal(value) -%}
    {{ return(adapter.dispatch('sql_string_literal', 'c360')(value)) }}
{%- endmacro %}

{% macro default__sql_string_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro snowflake__sql_string_literal(value) -%}
    '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
