{#- Keeps every model and test result of every dbt invocation in audit.dbt_results, so the
    data-quality gate (and on-call) can see what ran in an Airflow run without dbt's artifacts,
    which Cosmos leaves in a temporary directory. -#}
{% macro record_run_results(results) %}
    {%- if execute and results -%}
        {%- set relation = api.Relation.create(database=target.database, schema='audit', identifier='dbt_results') -%}
        {% do adapter.create_schema(relation) %}
        {% call statement('create_dbt_results') -%}
            create table if not exists {{ relation }} (
                airflow_run_id varchar,
                invocation_id varchar,
                unique_id varchar,
                resource_type varchar,
                node_name varchar,
                layer varchar,
                status varchar,
                failures bigint,
                execution_seconds double precision,
                message varchar,
                recorded_at timestamp
            )
        {%- endcall %}
        {% call statement('insert_dbt_results') -%}
            insert into {{ relation }} values
            {% for r in results -%}
                {%- set path = r.node.original_file_path.split('/') -%}
                (
                    {{ sql_string_literal(var("airflow_run_id", "")) }},
                    {{ sql_string_literal(invocation_id) }},
                    {{ sql_string_literal(r.node.unique_id) }},
                    {{ sql_string_literal(r.node.resource_type) }},
                    {{ sql_string_literal(r.node.name) }},
                    {{ sql_string_literal(path[1] if path[0] == "models" and path | length > 2 else "") }},
                    {{ sql_string_literal(r.status) }},
                    {{ r.failures if r.failures is not none else 'null' }},
                    {{ r.execution_time | round(3) }},
                    {{ sql_string_literal((r.message or "") | truncate(1000)) }},
                    {{ dbt.current_timestamp() }}
                ){{ "," if not loop.last }}
            {% endfor %}
        {%- endcall %}
        {#- Project hooks run inside the adapter's transaction; without this the rows vanish. -#}
        {% do adapter.commit() %}
    {%- endif -%}
{% endmacro %}
