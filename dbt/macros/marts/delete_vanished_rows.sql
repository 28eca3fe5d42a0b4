{#- Post-hook of an incremental model: remove rows whose key no longer exists upstream, so an
    incremental run equals a full refresh even when a landing file was withdrawn. A no-op on a
    full refresh and on the first build. -#}
{% macro delete_vanished_rows(key, upstream) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where not exists (
            select 1 from {{ upstream }} as upstream
            where upstream.{{ key }} = {{ this }}.{{ key }}
        )
    {%- endif -%}
{%- endmacro %}
