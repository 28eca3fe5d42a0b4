{#- Every row satisfies a boolean SQL expression (a cross-column invariant). Restrict rows with
    the standard `where` test config. -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
