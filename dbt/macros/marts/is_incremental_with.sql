{#- is_incremental(), the existing table has every one of these state columns and, given a code
    hash, every row's inputs_code_hash is it. Otherwise an incremental model whose query reads its
    own state takes the full path (every row written, as on a first run): on a table built before
    those columns existed, instead of failing on them, and after a code change, which rewrites
    every row anyway, without listing every key. -#}
{% macro is_incremental_with(columns, code_hash=none) -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set built = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- for column in columns if column | lower not in built -%}
        {{ return(false) }}
    {%- endfor -%}
    {%- if code_hash is not none -%}
        {%- set other_code = run_query(
            "select count(*) from (select 1 as found from " ~ this ~ " where inputs_code_hash <> '"
            ~ code_hash ~ "' or inputs_code_hash is null limit 1) as first_row"
        ).columns[0].values()[0] -%}
        {{ return(other_code == 0) }}
    {%- endif -%}
    {{ return(true) }}
{%- endmacro %}
