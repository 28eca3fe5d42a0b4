{#- A cheap content hash of a row, used by incremental models to find rows whose content changed
    (an order refunded after its items were loaded, a product re-categorised). Both DuckDB and
    Snowflake have a variadic, null-safe native hash() that is far cheaper than md5 over a
    concatenation; other adapters fall back to md5. -#}
{% macro row_fingerprint(columns) -%}
    {{ return(adapter.dispatch('row_fingerprint', 'c360')(columns)) }}
{%- endmacro %}

{% macro default__row_fingerprint(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{% macro duckdb__row_fingerprint(columns) -%}
    cast(hash({{ columns | join(', ') }}) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro snowflake__row_fingerprint(columns) -%}
    cast(hash({{ columns | join(', ') }}) as {{ dbt.type_string() }})
{%- endmacro %}
