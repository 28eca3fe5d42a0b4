{#- numerator / denominator as a 64-bit float, null when the denominator is 0 or null (dialects
    would otherwise raise or return inf). Both sides are parenthesised so expressions can be passed. -#}
{% macro safe_divide(numerator, denominator) -%}
    case
        when ({{ denominator }}) = 0 then null
        else cast(({{ numerator }}) as {{ type_double() }}) / ({{ denominator }})
    end
{%- endmacro %}
