{#- numerator / denominator as a float, null when the denominator is 0 or null (both dialects
    would otherwise raise or return inf). -#}
{% macro safe_divide(numerator, denominator) -%}
    case
        when {{ denominator }} = 0 then null
        else cast({{ numerator }} as {{ dbt.type_float() }}) / {{ denominator }}
    end
{%- endmacro %}
