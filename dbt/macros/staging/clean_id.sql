{#- Surrounding whitespace (space, tab, newlines, no-break space) removed - plain trim() removes
    spaces only - and an empty or blank value turned into null. -#}
{% macro clean_string(column) -%}
    {{ return(adapter.dispatch('clean_string', 'c360')(column)) }}
{%- endmacro %}

{% macro default__clean_string(column) -%}
    nullif(trim({{ column }}, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)), '')
{%- endmacro %}

{#- DuckDB's trim() with a character set is much slower than a regex test on each end
    (docs/benchmarks.md), and nearly every id is already clean: only values that start or end with
    one of those characters (or are empty) pay for the trim. Same result as the default, value for
    value. -#}
{% macro duckdb__clean_string(column) -%}
    case
        when {{ column }} = ''
            or regexp_matches({{ column }}, '^[ \t\n\v\f\r\x{A0}]|[ \t\n\v\f\r\x{A0}]$')
            then {{ default__clean_string(column) }}
        else {{ column }}
    end
{%- endmacro %}

{#- An identifier as the graph sees it: cleaned as any string; interior characters (quotes, %, _,
    backslashes, emoji) are kept verbatim. -#}
{% macro clean_id(column) -%}
    {{ clean_string(column) }}
{%- endmacro %}
