{#- One row per key: the loader has quarantined a key landing with different values, so what
    repeats is the same record landed twice; the copy from the latest file (then row) is kept,
    as the loader decides its winners. -#}
{% macro keep_latest_landed(key) -%}
    qualify row_number() over (
        partition by {{ key }} order by landed_file_name desc, landed_row_number desc
    ) = 1
{%- endmacro %}
