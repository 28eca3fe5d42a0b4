{#- Every value is set: not null, and not blank once surrounding whitespace is removed (as
    clean_string does). Fails on each such row, whole, so the row is named. -#}
{% test not_blank(model, column_name) %}
select *
from {{ model }}
where {{ clean_string(column_name) }} is null
{% endtest %}
