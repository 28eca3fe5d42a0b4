{#- DuckDB's string compression (dict_fsst) around the stitching layer's models, as pre- and
    post-hooks (dbt_project.yml). Their tables are tens of millions of random ids and hashes, which
    compress little and make every write about 2x slower (stitcher and node tables at 10M edges);
    every other layer keeps the compression, which shrinks its tables 3x. The setting only decides
    how new data is written, never what can be read. Snowflake compresses on its own: no hook. -#}

{% macro disable_string_compression() -%}
    {{ return(adapter.dispatch('disable_string_compression', 'c360')()) }}
{%- endmacro %}

{% macro default__disable_string_compression() -%}{%- endmacro %}

{% macro duckdb__disable_string_compression() -%}
    set disabled_compression_methods = 'dict_fsst'
{%- endmacro %}

{% macro restore_string_compression() -%}
    {{ return(adapter.dispatch('restore_string_compression', 'c360')()) }}
{%- endmacro %}

{% macro default__restore_string_compression() -%}{%- endmacro %}

{% macro duckdb__restore_string_compression() -%}
    reset disabled_compression_methods
{%- endmacro %}
