{#- The work tables of a custom materialization, <model>__<tag>_<suffix> beside the model: a dict
    name -> relation. names: a list (each name is its suffix) or a dict name -> suffix. -#}
{% macro work_tables(relation, tag, names) %}
  {%- set suffixes = names if names is mapping else {} -%}
  {%- if names is not mapping -%}
    {%- for name in names -%}
      {%- do suffixes.update({name: name}) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set work = {} -%}
  {%- for name, suffix in suffixes.items() -%}
    {%- do work.update({name: api.Relation.create(
          database=relation.database,
          schema=relation.schema,
          identifier=relation.identifier ~ '__' ~ tag ~ '_' ~ suffix,
          type='table')}) -%}
  {%- endfor -%}
  {{ return(work) }}
{% endmacro %}


{% macro drop_work_tables(work) %}
  {%- for relation in work.values() -%}
    {% do adapter.drop_relation(relation) %}
  {%- endfor -%}
{% endmacro %}
