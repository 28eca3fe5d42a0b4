{#- Schemas are named exactly as in the output contract (staging, stitching, marts, ...), not
    prefixed with the target schema as dbt does by default. A DAG run builds the published layers
    (stitching, marts, analytics) in the colour readers do not look at, `<layer>__<colour>`
    (C360_BUILD_COLOUR, chosen by the run's plan_build task); its publish task then points the
    contract names at them (include/publishing/). Without a colour (a plain `dbt build`) every layer
    builds under its contract name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set colour = env_var('C360_BUILD_COLOUR', '') | trim -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif colour and custom_schema_name | trim in var('published_layers') -%}
        {{ custom_schema_name | trim }}__{{ colour }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
