{#- True when the pattern matches anywhere in the value (Snowflake's REGEXP_LIKE anchors the
    whole string, so it uses REGEXP_INSTR). DuckDB rewrites simple anchored patterns such as
    '^#\{' to prefix(), so a pattern list stays cheap on large node tables. -#}
{% macro regex_search(column, pattern) -%}
    {{ return(adapter.dispatch('regex_search', 'c360')(column, pattern)) }}
{%- endmacro %}

{% macro default__regex_search(column, pattern) -%}
    regexp_matches({{ column }}, {{ sql_string_literal(pattern) }})
{%- endmacro %}

{% macro snowflake__regex_search(column, pattern) -%}
    regexp_instr({{ column }}, {{ sql_string_literal(pattern) }}) > 0
{%- endmacro %}
