{#- A SQL string literal for a value from configuration (patterns, notes). Snowflake also treats
    the backslash as an escape character inside quotes, DuckDB does not. -#}
{% macro stitch_string_literal(value) -%}
    {{ return(adapter.dispatch('stitch_string_literal', 'c360')(value)) }}
{%- endmacro %}

{% macro default__stitch_string_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro snowflake__stitch_string_literal(value) -%}
    '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
