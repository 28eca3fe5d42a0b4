{#- A cheap native hash of a row, for order-independent fingerprints of a set of rows (hash_sum).
    Both DuckDB and Snowflake have a variadic, null-safe 64-bit hash(); no portable one exists for
    other adapters, so they get a compile error rather than a weak one. It is shifted to 63 bits
    and cast to bigint, so a stored hash has one signed type on both (DuckDB's is unsigned, and the
    Snowflake emulator cannot return an unsigned column). -#}
{% macro row_hash(columns) -%}
    {{ return(adapter.dispatch('row_hash', 'c360')(columns)) }}
{%- endmacro %}

{% macro default__row_hash(columns) -%}
    {{ exceptions.raise_compiler_error("row_hash: no 64-bit row hash for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__row_hash(columns) -%}
    cast(hash({{ columns | join(', ') }}) >> 1 as bigint)
{%- endmacro %}

{% macro snowflake__row_hash(columns) -%}
    cast(bitshiftright(hash({{ columns | join(', ') }}), 1) as bigint)
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
