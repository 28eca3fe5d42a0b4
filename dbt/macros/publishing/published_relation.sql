{#- The relation readers see under a contract name (a view on the published build), or none: before
    the first publish, while parsing, or when the model being built is itself under that name (a
    plain `dbt build` without a build colour). -#}
{% macro published_relation(schema, identifier) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(database=target.database, schema=schema, identifier=identifier) -%}
    {%- if relation is none or relation.schema | lower == this.schema | lower -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
