{#- The latest_landed materialization: a staging table of one row per key - the copy from the
    latest landed file, then row (keep_latest_landed) - brought up to date from what the loader
    changed instead of being rebuilt from the whole landed history.

    Each row carries the content fingerprint of the file it came from: landed_file_sha256, the
    SHA-256 of the file's current batch in audit.load_batches (null without one). An incremental
    run compares, per source, the (file_name, sha) of the current batches with the distinct
    (landed_file_name, landed_file_sha256) of the table. A file in one set and not in the other is
    affected:
      - landed: current content the table has no row from (a new file, a file's new content, a
        file none of whose rows won);
      - staged: content the table has rows from that is no longer current (a replaced file's old
        content, a loader full refresh that dropped a vanished file, a wrong sha).
    The affected keys are the keys of the raw rows of landed files and of the table's rows of staged
    files. The table's rows of those keys are deleted and the latest landed row of each key, from
    ALL its raw rows, is inserted: a key's winner can move to an earlier file (its later copy
    went), to a later one (a duplicate landed) or go (no row left). Any other key keeps its row:
    each of its raw rows comes from a file whose current content the table already has rows from,
    and its own row is from current content, so a full build gives it the same row.

    That holds from any state a run of this model leaves: the delete and the insert commit together,
    and the work tables (<model>__ll_*) are rebuilt by every run, so a failed run leaves the table
    as the last whole run made it. An edit by hand that keeps every file's fingerprint in the table
    (deleting some, not all, of a file's rows) goes unseen; --full-refresh rebuilds from scratch.

    Full build (the model's query as is, as a table materialization would): the first run,
    --full-refresh, no usable audit.load_batches (plain dbt runs over raw tables written directly),
    a table from before landed_file_sha256, and dbt commands other than run/build/retry (compile and
    show render the full query).

    The model reads its rows through landed_rows(), which limits them to the affected keys on the
    incremental path. Config: unique_key - the key column (one column; a null key is a key like any
    other); landed_sources - the sources of audit.load_batches the rows come from (default: the
    tables of the model's sources other than audit); landed_source_of_row - SQL over the model's
    columns giving the source of a row, needed with more than one source. -#}

{% materialization latest_landed, default %}

  {%- set unique_key = config.get('unique_key') -%}
  {%- if unique_key is none or unique_key is not string -%}
    {% do exceptions.raise_compiler_error(this.identifier ~ ": latest_landed needs unique_key, one column") %}
  {%- endif -%}
  {%- set sources = latest_landed_sources() -%}
  {%- set source_of_row = latest_landed_source_of_row(sources) -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {%- set work = latest_landed_work_tables(target_relation) -%}
  {%- set plan = latest_landed_plan() -%}
  {%- set grant_config = config.get('grants') -%}

  {#- The query was rendered for one path (landed_rows); it must be the path taken. -#}
  {%- if plan.incremental != (work.files.identifier in compiled_code) -%}
    {% do exceptions.raise_compiler_error(this.identifier ~ ": the query was rendered for the other"
        ~ " path than this run takes (" ~ plan.reason ~ "); does the model read its rows with landed_rows()?") %}
  {%- endif -%}

  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}
  {% do drop_work_tables(work) %}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% if plan.incremental %}
    {% do latest_landed_apply_changes(target_relation, work, compiled_code, unique_key, sources, source_of_row,
        plan) %}
  {% else %}
    {% do log(this.identifier ~ ": full build (" ~ plan.reason ~ ")", info=True) %}
    {% do latest_landed_replace_table(target_relation, existing_relation, intermediate_relation,
        backup_relation, compiled_code) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do apply_grants(target_relation, grant_config,
      should_revoke=should_revoke(existing_relation, full_refresh_mode=not plan.incremental)) %}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup_relation) }}
  {% do drop_work_tables(work) %}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{#- Whether this run of the model takes the incremental path, and why (or why not): a dict
    {incremental, reason, batches (latest_landed_batches), columns (the table's, on the incremental
    path)}. Called while the query is rendered (landed_rows) and again by the materialization, which
    checks they agree. -#}
{% macro latest_landed_plan() %}
  {#- First, so that parsing records the audit source as a dependency. -#}
  {%- set batches = latest_landed_batches() -%}
  {%- set full = {'incremental': false, 'batches': batches, 'columns': none} -%}
  {%- if not execute or model.resource_type != 'model' or model.config.materialized != 'latest_landed' -%}
    {{ return(dict(full, reason='not a latest_landed model being built')) }}
  {%- endif -%}
  {%- if flags.WHICH not in ('run', 'build', 'retry') -%}
    {{ return(dict(full, reason='dbt ' ~ flags.WHICH ~ ' renders the whole query')) }}
  {%- endif -%}
  {%- if should_full_refresh() -%}
    {{ return(dict(full, reason='--full-refresh')) }}
  {%- endif -%}
  {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
  {%- if existing is none -%}
    {{ return(dict(full, reason='first run')) }}
  {%- endif -%}
  {%- if not existing.is_table -%}
    {{ return(dict(full, reason=this.identifier ~ ' is a ' ~ existing.type ~ ', not a table')) }}
  {%- endif -%}
  {%- if batches is none -%}
    {{ return(dict(full, reason='no audit.load_batches with content_sha256 and is_current')) }}
  {%- endif -%}
  {%- set columns = adapter.get_columns_in_relation(existing) | map(attribute='name') | list -%}
  {%- if 'landed_file_sha256' not in columns | map('lower') | list -%}
    {{ return(dict(full, reason='the table predates landed_file_sha256')) }}
  {%- endif -%}
  {{ return({'incremental': true, 'reason': 'incremental', 'batches': batches, 'columns': columns}) }}
{% endmacro %}


{#- audit.load_batches (the dbt source audit.load_batches) when it exists with the columns the
    fingerprints need, else none. Not in unit tests: they get their rows from fixtures only. -#}
{% macro latest_landed_batches() %}
  {%- if model.resource_type == 'unit_test' -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set batches = source('audit', 'load_batches') -%}
  {%- if not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set found = adapter.get_relation(database=batches.database, schema=batches.schema,
        identifier=batches.identifier) -%}
  {%- if found is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set columns = adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list -%}
  {%- for needed in ['source', 'file_name', 'content_sha256', 'is_current', 'loaded_at'] -%}
    {%- if needed not in columns -%}
      {{ return(none) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(found) }}
{% endmacro %}


{#- The current batch of each file of a source: (_batch_file_name, _file_sha256). is_current null
    (a warehouse from before the column) counts as current; should a file have several, the latest
    loaded wins. -#}
{% macro latest_landed_current_files(batches, source_name) -%}
    select
        file_name as _batch_file_name,
        content_sha256 as _file_sha256
    from {{ batches }}
    where source = {{ sql_string_literal(source_name) }} and coalesce(is_current, true)
    qualify row_number() over (
        partition by file_name
        order by loaded_at desc nulls last, content_sha256 desc nulls last
    ) = 1
{%- endmacro %}


{#- The rows a latest_landed model is built from, as a subquery to select from.

    relation: a raw table (a source()): its rows, plus _file_sha256 joined from the current batches
    of the source named like the table. Or, with landed_source given, a latest_landed model (a
    ref()) whose rows already carry landed_file_name and landed_file_sha256 of that source.
    key: SQL over the relation's columns giving the model's unique_key of a row.

    On the incremental path only the rows of the affected keys: the keys of the rows of the files
    whose current content the model has no row from (work table __ll_files, side 'landed'), and the
    keys of the model's rows from content no longer current (work table __ll_keys). Keys compare
    as coalesce(key, ''): a null key is affected with the empty one, which only recomputes both. -#}
{% macro landed_rows(relation, key, landed_source=none) -%}
  {%- set plan = latest_landed_plan() -%}
  {%- set work = latest_landed_work_tables(this) if plan.incremental else none -%}
  {%- set batches = plan.batches -%}
  {%- if landed_source is none -%}
    (
        select
            landed.*,
            {% if batches is none -%}
            cast(null as {{ dbt.type_string() }}) as _file_sha256
            {%- else -%}
            current_files._file_sha256
            {%- endif %}
        from {{ relation }} as landed
        {%- if batches is not none %}
        left join (
            {{ latest_landed_current_files(batches, relation.identifier) }}
        ) as current_files
            on landed._file_name = current_files._batch_file_name
        {%- endif %}
        {%- if plan.incremental %}
        where {{ latest_landed_affected(relation, key, '_file_name', relation.identifier, work) }}
        {%- endif %}
    ) as landed_rows
  {%- else -%}
    (
        select * from {{ relation }}
        {%- if plan.incremental %}
        where {{ latest_landed_affected(relation, key, 'landed_file_name', landed_source, work) }}
        {%- endif %}
    ) as landed_rows
  {%- endif -%}
{%- endmacro %}


{#- The condition of landed_rows on the incremental path: the row's key is affected. -#}
{% macro latest_landed_affected(relation, key, file_column, landed_source, work) -%}
    coalesce({{ key }}, '') in (
            select coalesce({{ key }}, '') from {{ relation }}
            where {{ file_column }} in (
                select file_name from {{ work.files }}
                where landed_source = {{ sql_string_literal(landed_source) }} and side = 'landed'
            )
            union all
            select landed_key from {{ work.staged_keys }}
        )
{%- endmacro %}


{#- The incremental path: affected files and keys into the work tables, the new rows of the affected
    keys, then in one transaction the affected keys' rows deleted and the new rows inserted. -#}
{% macro latest_landed_apply_changes(target, work, model_sql, unique_key, sources, source_of_row, plan) %}
  {% call statement('latest_landed_files') -%}
    create table {{ work.files }} as (
        {{ latest_landed_files_sql(target, plan.batches, sources, source_of_row) }}
    )
  {%- endcall %}
  {% call statement('latest_landed_keys') -%}
    create table {{ work.staged_keys }} as (
        with staged_rows as (
            select
                {{ unique_key }} as landed_key,
                {{ source_of_row }} as landed_source,
                landed_file_name,
                landed_file_sha256
            from {{ target }}
        )
        select distinct coalesce(staged_rows.landed_key, '') as landed_key
        from staged_rows
        inner join {{ work.files }} as files
            on staged_rows.landed_source = files.landed_source
            and staged_rows.landed_file_name = files.file_name
            and coalesce(staged_rows.landed_file_sha256, '') = coalesce(files.content_sha256, '')
        where files.side = 'staged'
    )
  {%- endcall %}
  {% call statement('latest_landed_rows') -%}
    create table {{ work.new_rows }} as (
        {{ model_sql }}
    )
  {%- endcall %}

  {%- set columns = plan.columns -%}
  {%- set new_columns = adapter.get_columns_in_relation(work.new_rows) | map(attribute='name') | list -%}
  {%- if columns | map('lower') | list != new_columns | map('lower') | list -%}
    {% do exceptions.raise_compiler_error(this.identifier ~ ": the model's columns (" ~ new_columns | join(', ')
        ~ ") are not the table's (" ~ columns | join(', ') ~ "); run it with --full-refresh") %}
  {%- endif -%}
  {% do latest_landed_log(work, unique_key) %}

  {%- set column_list = get_quoted_csv(columns) -%}
  {%- set dml -%}
    delete from {{ target }}
    where coalesce({{ unique_key }}, '') in (
        select coalesce({{ unique_key }}, '') from {{ work.new_rows }}
        union all
        select landed_key from {{ work.staged_keys }}
    );
    insert into {{ target }} ({{ column_list }})
    select {{ column_list }} from {{ work.new_rows }}
  {%- endset %}
  {% call statement('main') -%}
    {{ latest_landed_transaction(dml) }}
  {%- endcall %}
{% endmacro %}


{#- A full build: the model's query replaces the table. DuckDB: built aside and renamed in, in dbt's
    transaction (as dbt-duckdb's table materialization). Snowflake: CREATE OR REPLACE, which is
    atomic there (as dbt-snowflake's), where renames would each commit. -#}
{% macro latest_landed_replace_table(target, existing, intermediate, backup, model_sql) %}
  {{ return(adapter.dispatch('latest_landed_replace_table', 'c360')(target, existing, intermediate, backup,
      model_sql)) }}
{% endmacro %}

{% macro default__latest_landed_replace_table(target, existing, intermediate, backup, model_sql) %}
  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, intermediate, model_sql) }}
  {%- endcall %}
  {% if existing is not none %}
    {{ adapter.rename_relation(existing, backup) }}
  {% endif %}
  {{ adapter.rename_relation(intermediate, target) }}
{% endmacro %}

{% macro snowflake__latest_landed_replace_table(target, existing, intermediate, backup, model_sql) %}
  {% if existing is not none and not existing.is_table %}
    {% do adapter.drop_relation(existing) %}
  {% endif %}
  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, target, model_sql) }}
  {%- endcall %}
{% endmacro %}


{#- The symmetric difference of the current batches' (source, file, sha) and the table's distinct
    (source, landed_file_name, landed_file_sha256): one row per affected file, side 'landed' (the
    current content) or 'staged' (content the table has rows from). -#}
{% macro latest_landed_files_sql(target, batches, sources, source_of_row) -%}
        with current_files as (
            {%- for source_name in sources %}
            select
                {{ sql_string_literal(source_name) }} as landed_source,
                _batch_file_name as file_name,
                _file_sha256 as content_sha256
            from (
                {{ latest_landed_current_files(batches, source_name) }}
            ) as current_{{ loop.index }}
            {%- if not loop.last %}
            union all
            {%- endif %}
            {%- endfor %}
        ),

        staged_files as (
            select distinct
                {{ source_of_row }} as landed_source,
                landed_file_name as file_name,
                landed_file_sha256 as content_sha256
            from {{ target }}
        ),

        landed as (
            select landed_source, file_name, content_sha256 from current_files
            except
            select landed_source, file_name, content_sha256 from staged_files
        ),

        staged as (
            select landed_source, file_name, content_sha256 from staged_files
            except
            select landed_source, file_name, content_sha256 from current_files
        )

        select landed_source, file_name, content_sha256, 'landed' as side from landed
        union all
        select landed_source, file_name, content_sha256, 'staged' as side from staged
{%- endmacro %}


{#- One log line: the affected files (the first few by name) and keys, and the rows written. -#}
{% macro latest_landed_log(work, unique_key) %}
  {%- set files = run_query("select side, landed_source, file_name from " ~ work.files
        ~ " order by side, landed_source, file_name") -%}
  {%- set named = [] -%}
  {%- for row in files.rows -%}
    {%- if loop.index <= 10 -%}
      {%- do named.append(row[0] ~ " " ~ row[1] ~ "/" ~ row[2]) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if files.rows | length > 10 -%}
    {%- do named.append("and " ~ (files.rows | length - 10) ~ " more") -%}
  {%- endif -%}
  {%- set counts = run_query(
        "select (select count(*) from (select coalesce(" ~ unique_key ~ ", '') as landed_key from " ~ work.new_rows
        ~ " union select landed_key from " ~ work.staged_keys ~ ") as affected) as affected_keys,"
        ~ " (select count(*) from " ~ work.new_rows ~ ") as new_rows").rows[0] -%}
  {% do log(this.identifier ~ ": incremental: " ~ files.rows | length ~ " affected files"
      ~ (" (" ~ named | join(", ") ~ ")" if named else "") ~ ", " ~ counts[0] ~ " affected keys: "
      ~ counts[1] ~ " rows written, " ~ (counts[0] - counts[1]) ~ " keys gone", info=True) %}
{% endmacro %}


{#- The delete and the insert as one transaction: dbt's on DuckDB (committed by the
    materialization), an explicit one on Snowflake, where dbt runs statements in autocommit. -#}
{% macro latest_landed_transaction(dml) -%}
  {{ return(adapter.dispatch('latest_landed_transaction', 'c360')(dml)) }}
{%- endmacro %}

{% macro default__latest_landed_transaction(dml) -%}
  {{ return(dml) }}
{%- endmacro %}

{% macro snowflake__latest_landed_transaction(dml) -%}
  {{ return(snowflake_dml_explicit_transaction(dml)) }}
{%- endmacro %}


{#- Config landed_sources, or the tables of the model's sources other than audit. -#}
{% macro latest_landed_sources() %}
  {%- set sources = config.get('landed_sources') -%}
  {%- if sources is none -%}
    {%- set sources = [] -%}
    {%- for source_name, table_name in model.sources if source_name != 'audit' -%}
      {%- do sources.append(table_name) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if sources | length == 0 -%}
    {% do exceptions.raise_compiler_error(this.identifier ~ ": latest_landed found no landed source;"
        ~ " read a source() with landed_rows() or set landed_sources") %}
  {%- endif -%}
  {{ return(sources) }}
{% endmacro %}


{#- Config landed_source_of_row, or the one source as a literal. -#}
{% macro latest_landed_source_of_row(sources) %}
  {%- set expression = config.get('landed_source_of_row') -%}
  {%- if expression is none and sources | length > 1 -%}
    {% do exceptions.raise_compiler_error(this.identifier ~ ": rows from " ~ sources | join(', ')
        ~ " need landed_source_of_row, the SQL naming a row's source") %}
  {%- endif -%}
  {{ return(expression or sql_string_literal(sources[0])) }}
{% endmacro %}


{#- The work tables of one model, <model>__ll_<name> in its schema: the affected files, the
    affected keys of the table's rows, the new rows. -#}
{% macro latest_landed_work_tables(relation) %}
  {{ return(work_tables(relation, 'll', {'files': 'files', 'staged_keys': 'keys', 'new_rows': 'rows'})) }}
{% endmacro %}
