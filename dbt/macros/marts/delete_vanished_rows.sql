{#- Post-hook of an incremental model: remove rows whose key no longer exists upstream, so an
    incremental run equals a full refresh even when a landing file was withdrawn or re-landed
    without some rows. Runs only on the incremental path (a no-op statement otherwise); upstream
    keys are tested not_null, so `not in` cannot be defeated by a null.

    With landed_file_sha (the column holding the upstream row's landed_file_sha256), it compares
    file contents instead of keys: once the run has rewritten every key of a changed file, a row
    is gone upstream exactly when its file's content is no longer there (a key of a file still
    there is still upstream). That scans one column instead of joining every key, and falls back
    to the keys while the table holds a row of unknown (null) content. -#}
{% macro delete_vanished_rows(key, upstream, landed_file_sha=none) -%}
    {%- if is_incremental() -%}
        {%- set by_file = landed_file_sha is not none and execute and run_query(
            "select count(*) from " ~ this ~ " where " ~ landed_file_sha ~ " is null"
        ).columns[0].values()[0] == 0 -%}
        delete from {{ this }}
        {% if by_file -%}
        where {{ landed_file_sha }} not in (
            select distinct landed_file_sha256 from {{ upstream }}
            where landed_file_sha256 is not null
        )
        {%- else -%}
        where {{ key }} not in (select {{ key }} from {{ upstream }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
