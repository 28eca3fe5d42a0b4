{#- The reverse of relationships: every value of `field` in `to` (optionally filtered by
    `to_where`) appears in this column, i.e. no parent row is missing from the model. -#}
{% test covers_all(model, column_name, to, field, to_where=none) %}
select parent.{{ field }}
from {{ to }} as parent
where parent.{{ field }} is not null
    {%- if to_where %} and ({{ to_where }}){% endif %}
    and not exists (
        select 1 from {{ model }} as child
        where child.{{ column_name }} = parent.{{ field }}
    )
{% endtest %}
