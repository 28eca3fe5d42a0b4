{#- True when the pattern matches anywhere in the value (Snowflake's REGEXP_LIKE anchors the
    whole string, so it uses REGEXP_INSTR). -#}
{% macro regex_search(column, pattern) -%}
    {{ return(adapter.dispatch('regex_search', 'c360')(column, pattern)) }}
{%- endmacro %}

{% macro default__regex_search(column, pattern) -%}
    regexp_matches({{ column }}, '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{% macro snowflake__regex_search(column, pattern) -%}
    regexp_instr({{ column }}, '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}') > 0
{%- endmacro %}
