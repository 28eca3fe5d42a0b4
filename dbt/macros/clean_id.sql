{#- Surrounding whitespace (space, tab, newlines, no-break space) removed - plain trim() removes
    spaces only - and an empty or blank value turned into null. -#}
{% macro clean_string(column) -%}
    nullif(trim({{ column }}, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)), '')
{%- endmacro %}

{#- An identifier as the graph sees it: cleaned as any string; interior characters (quotes, %, _,
    backslashes, emoji) are kept verbatim. -#}
{% macro clean_id(column) -%}
    {{ clean_string(column) }}
{%- endmacro %}
