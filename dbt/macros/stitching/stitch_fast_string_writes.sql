{#- DuckDB 1.3+ compresses string columns with dict_fsst when writing a table; on the stitching
    layer's high-entropy ids (UUIDs, hashes) it gains little space and makes writing the tens of
    millions of ids 3-4x slower. Used as a pre-hook of the models that write many ids. The setting
    is global to the DuckDB instance, so it stays for the rest of the process (only later writes'
    compression choice is affected, never what can be read); the profile is the better home for it.
    Other adapters: nothing. -#}
{% macro stitch_fast_string_writes() -%}
    {{ return(adapter.dispatch('stitch_fast_string_writes', 'c360')()) }}
{%- endmacro %}

{% macro default__stitch_fast_string_writes() -%}
{%- endmacro %}

{% macro duckdb__stitch_fast_string_writes() -%}
    set disabled_compression_methods = 'dict_fsst'
{%- endmacro %}
