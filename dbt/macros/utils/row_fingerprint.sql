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
    cast({{ row_hash(columns) }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro snowflake__row_fingerprint(columns) -%}
    cast({{ row_hash(columns) }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- The same native hash as a 64-bit integer, for order-independent fingerprints of a set of rows
    (hash_sum). No portable 64-bit hash exists for other adapters, so they get a compile error
    rather than a weak one. -#}
{% macro row_hash(columns) -%}
    {{ return(adapter.dispatch('row_hash', 'c360')(columns)) }}
{%- endmacro %}

{% macro default__row_hash(columns) -%}
    {{ exceptions.raise_compiler_error("row_hash: no 64-bit row hash for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__row_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro snowflake__row_hash(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{#- An aggregate: the exact sum of a group's row_hash values, as a string. It changes when a row of
    the group is added, removed or changed, and does not depend on row order. -#}
{% macro hash_sum(hash_column) -%}
    {{ return(adapter.dispatch('hash_sum', 'c360')(hash_column)) }}
{%- endmacro %}

{#- DuckDB sums its unsigned 64-bit hashes into a 128-bit hugeint: exact. -#}
{% macro duckdb__hash_sum(hash_column) -%}
    cast(sum({{ hash_column }}) as {{ dbt.type_string() }})
{%- endmacro %}

{#- Two sums of 32-bit halves: exact in Snowflake's number(38, 0), and also where a sum runs in
    floating point (the fakesnow emulator: each half-sum stays below 2^53 up to 2^21 rows a group),
    so the emulator recomputes no more than Snowflake would. -#}
{% macro snowflake__hash_sum(hash_column) -%}
    cast(sum(bitshiftright({{ hash_column }}, 32)) as {{ dbt.type_string() }})
    || '.'
    || cast(sum(bitand({{ hash_column }}, 4294967295)) as {{ dbt.type_string() }})
{%- endmacro %}
