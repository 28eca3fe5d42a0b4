{#- DuckDB's string compression (dict_fsst), set by each model's pre-hook (dbt_project.yml) from
    its meta.string_compression (default true). The stitching layer turns it off: its tables are
    random ids and hashes, which compress little and make every write markedly slower; every other
    layer keeps it, which shrinks its tables severalfold (docs/benchmarks.md). Each model sets what it needs rather than a post-hook restoring it: with two dbt
    threads, a neighbour's restore would land in the middle of a running model. The setting only
    decides how new data is written, never what can be read. Snowflake compresses on its own. -#}

{% macro set_string_compression() -%}
    {{ return(adapter.dispatch('set_string_compression', 'c360')()) }}
{%- endmacro %}

{% macro default__set_string_compression() -%}{%- endmacro %}

{% macro duckdb__set_string_compression() -%}
    {%- set compress = model.config.get('meta', {}).get('string_compression', true) -%}
    set disabled_compression_methods = '{{ "" if compress else "dict_fsst" }}'
{%- endmacro %}
