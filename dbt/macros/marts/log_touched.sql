{#- Post-hook of an incremental state model: one log line saying how many of its keys this
    invocation (re)computed, read back from the rows it stamped, so the figure is what was written
    rather than what was meant to be. Renders no SQL. -#}
{% macro log_touched(key, noun) -%}
    {%- if execute -%}
        {%- set counts = run_query(
            "select count(distinct case when dbt_invocation_id = '" ~ invocation_id ~ "' then " ~ key
            ~ " end), count(distinct " ~ key ~ ") from " ~ this
        ) -%}
        {%- do log(
            this.identifier ~ ": " ~ counts.rows[0][0] ~ " of " ~ counts.rows[0][1] ~ " " ~ noun
            ~ " touched",
            info=True
        ) -%}
    {%- endif -%}
{%- endmacro %}
