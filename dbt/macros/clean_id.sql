{#- An identifier as the graph sees it: surrounding whitespace removed, empty or blank -> null.
    Interior characters (quotes, %, _, emoji) are kept verbatim. -#}
{% macro clean_id(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}
