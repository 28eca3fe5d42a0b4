{#- Post-hook of an incremental model: remove rows whose key no longer exists upstream, so an
    incremental run equals a full refresh even when a landing file was withdrawn or re-landed
    without some rows. Runs only on the incremental path (a no-op statement otherwise); upstream
    keys are tested not_null, so `not in` cannot be defeated by a null. -#}
{% macro delete_vanished_rows(key, upstream) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ key }} not in (select {{ key }} from {{ upstream }})
    {%- endif -%}
{%- endmacro %}
