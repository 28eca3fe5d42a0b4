{#- The md5 of the running model's code and of the code of the models it reads. An incremental
    model that keeps state (fct_order_items, dim_customers__features) stores it, so a change to
    its own or an upstream model's code recomputes every row instead of keeping rows the old code
    wrote. Macros the models call are not in it: --full-refresh covers a macro change. -#}
{% macro model_code_hash() -%}
    {%- set code = [model.raw_code] -%}
    {%- for node_id in model.get('depends_on', {}).get('nodes', []) | sort -%}
        {%- set node = graph.get('nodes', {}).get(node_id) -%}
        {%- if node is not none -%}{%- do code.append(node.raw_code) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(local_md5(code | join('\n'))) }}
{%- endmacro %}
