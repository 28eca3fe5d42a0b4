{#- Connected components by cluster contraction, as a materialization.

    The model's SQL returns an edge list of integer surrogates (columns node_a, node_b). The
    materialization writes one row per node that touches an edge: (node_key, component_key), where
    component_key is the smallest node_key of the node's connected component. Nodes without edges
    are not listed (each is a component of its own).

    Each round works on the contracted edge list E between cluster labels (a < b):
      1. hook: every label b with a smaller neighbour takes the smallest one as parent;
      2. compress: pointer jumping (p = p o p) on that small parent table until every parent is a
         root, so a sorted chain collapses in one round instead of one hop per round;
      3. contract: E' = distinct (parent(a), parent(b)) with both ends different; edges inside a
         cluster disappear and clusters without crossing edges are set aside.
    Every round at least halves the number of clusters that still have crossing edges, so rounds
    <= log2(largest component) + 1; the loop stops when E' is empty. Labels are always the minimum
    of their cluster, so every node is the child of exactly one recorded (round, parent) row or is
    its component's minimum. Round 1's parents already point at round-1 roots; the later rounds'
    rows are few, so only they are resolved by pointer jumping, and the final table is one pass
    over round 1's parents.

    Plain CREATE TABLE AS / INSERT / GROUP BY / JOIN, so the same code runs on DuckDB and
    Snowflake. Work tables are regular tables named <model>__cc_*, dropped before and after, so a
    crashed run leaves nothing that can confuse the next one.

    Incremental: the model keeps its state, <model>__cc_state: every distinct edge (a < b) it was
    computed from with the edge's component_key, and every node (a, b null) with its component_key
    (the model's rows). One table, replaced by a rename, so a state is
    always whole and self-consistent, whatever happened to the run that wrote it. The next run
    compares today's edges with it: a component none of whose nodes gained or lost an edge is
    still exactly a component (all its edges are old ones, all inside it), so it is kept; the
    components of nodes whose edges changed, and the new nodes, are recomputed from their edges
    today. So the result equals a full computation from ANY earlier state (a blue/green build's
    state is two runs old, or a refused build), and the cost is the diff plus the dirty part.
    --full-refresh, or no state, computes everything.

    Config: max_rounds (default var stitch_max_rounds) - the model fails, writing nothing, when
    crossing edges remain after that many rounds; log_table (default stitch_runs) - one row per
    round is appended to <schema>.<log_table> for trend review. -#}

{% materialization connected_components, default %}

  {%- set max_rounds = (config.get('max_rounds') or var('stitch_max_rounds', 30)) | int -%}
  {%- if max_rounds < 1 -%}
    {% do exceptions.raise_compiler_error("stitch_max_rounds must be at least 1, got " ~ max_rounds) %}
  {%- endif -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {%- set log_relation = api.Relation.create(
        database=target_relation.database,
        schema=target_relation.schema,
        identifier=config.get('log_table', 'stitch_runs'),
        type='table') -%}
  {%- set work = connected_components_work_tables(target_relation) -%}
  {%- set state_relation = api.Relation.create(
        database=target_relation.database,
        schema=target_relation.schema,
        identifier=target_relation.identifier ~ '__cc_state',
        type='table') -%}
  {%- set grant_config = config.get('grants') -%}

  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}
  {% do drop_work_tables(work) %}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- set previous_state = none if should_full_refresh() else load_cached_relation(state_relation) -%}
  {%- set dirty = connected_components_dirty(compiled_code, work, previous_state) -%}
  {%- set outcome = connected_components_rounds(dirty.edges_sql, work, max_rounds) -%}

  {% if not outcome.converged %}
    {% do drop_work_tables(work) %}
    {% do connected_components_log(log_relation, outcome.rounds, none, none) %}
    {% do adapter.commit() %}
    {%- set last = outcome.rounds[-1] -%}
    {% do exceptions.raise_compiler_error(
        this.identifier ~ ": connected components did not converge within stitch_max_rounds="
        ~ max_rounds ~ ": ran " ~ outcome.rounds | length ~ " rounds, " ~ last.edges_left
        ~ " crossing edges left between " ~ last.clusters_left ~ " clusters. Nothing was written;"
        ~ " raise stitch_max_rounds or look for an unexpected giant component"
        ~ " (stitching.stitch_runs has the rounds).") %}
  {% endif %}

  {%- set resolve_started = modules.datetime.datetime.now() -%}
  {%- set resolved = connected_components_compress(work.later, work.later_scratch) -%}
  {% call statement('cc_resolve') -%}
    {{ connected_components_final_sql(work.resolved, work.first, resolved.relation) }}
  {%- endcall %}
  {% do connected_components_create(work.state_next,
      connected_components_state_sql(work, previous_state)) %}
  {% call statement('main') -%}
    create table {{ intermediate_relation }} as
    select a as node_key, component_key from {{ work.state_next }} where b is null
  {%- endcall %}

  {%- set nodes = connected_components_scalar('select count(*) from ' ~ intermediate_relation) -%}
  {%- set components = connected_components_scalar(
        'select count(*) from ' ~ intermediate_relation ~ ' where node_key = component_key') -%}
  {% do log(this.identifier ~ ": " ~ nodes ~ " nodes with edges in " ~ components ~ " components after "
        ~ outcome.rounds | length ~ " rounds; resolved in "
        ~ connected_components_seconds(resolve_started) ~ " s", info=True) %}

  {% if existing_relation is not none %}
    {{ adapter.rename_relation(existing_relation, backup_relation) }}
  {% endif %}
  {{ adapter.rename_relation(intermediate_relation, target_relation) }}
  {#- the state last: the next run reads only it, and it is whole whichever rename ran -#}
  {% do adapter.drop_relation(state_relation) %}
  {{ adapter.rename_relation(work.state_next, state_relation) }}

  {% do drop_work_tables(work) %}
  {% do connected_components_log(log_relation, outcome.rounds, nodes, components) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) %}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup_relation) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{#- The work tables of one model: two edge lists and two parent tables used alternately, round 1's
    parents, the later rounds' parents and a scratch table to compress them. -#}
{% macro connected_components_work_tables(relation) %}
  {{ return(work_tables(relation, 'cc', ['input', 'changed_nodes', 'dirty_components', 'dirty_nodes', 'edges',
      'edges_next', 'parents', 'parents_next', 'first', 'later', 'later_scratch', 'resolved', 'state_next'])) }}
{% endmacro %}


{% macro connected_components_scalar(query) %}
  {%- set result = run_query(query) -%}
  {{ return(result.columns[0].values()[0] | int) }}
{% endmacro %}


{% macro connected_components_seconds(started) %}
  {{ return(((modules.datetime.datetime.now() - started).total_seconds()) | round(3)) }}
{% endmacro %}


{% macro connected_components_create(relation, query) %}
  {% do adapter.drop_relation(relation) %}
  {% call statement('cc_create') -%}
    create table {{ relation }} as {{ query }}
  {%- endcall %}
{% endmacro %}


{#- Today's distinct edges (a < b) in work.input, and the edges to compute components from: all of
    them without a previous state; with one, only those of the dirty nodes (nodes that gained or
    lost an edge, and every node of their previous components). An edge of a dirty node has both
    ends dirty: a new or lost edge makes both ends dirty, an old one lies inside a previous
    component. Returns edges_sql. -#}
{% macro connected_components_dirty(model_sql, work, previous_state) %}
  {% do connected_components_create(work.input,
      "select distinct least(node_a, node_b) as a, greatest(node_a, node_b) as b
       from (" ~ model_sql ~ ") as model_edges
       where node_a is not null and node_b is not null and node_a <> node_b") %}
  {% if previous_state is none %}
    {% do log(this.identifier ~ ": full computation (no previous state or --full-refresh)", info=True) %}
    {{ return({'edges_sql': 'select a, b from ' ~ work.input}) }}
  {% endif %}

  {% do connected_components_create(work.changed_nodes,
      "with before as (
           select a, b from " ~ previous_state ~ " where b is not null
       ),

       changes as (
           select coalesce(today.a, before.a) as a, coalesce(today.b, before.b) as b
           from " ~ work.input ~ " as today
           full outer join before on today.a = before.a and today.b = before.b
           where today.a is null or before.a is null
       )

       select a as node_key from changes
       union
       select b as node_key from changes") %}
  {% do connected_components_create(work.dirty_components,
      "select distinct before.component_key
       from " ~ previous_state ~ " as before
       inner join " ~ work.changed_nodes ~ " as changed on before.a = changed.node_key
       where before.b is null") %}
  {% do connected_components_create(work.dirty_nodes,
      "select node_key from " ~ work.changed_nodes ~ "
       union
       select before.a as node_key
       from " ~ previous_state ~ " as before
       inner join " ~ work.dirty_components ~ " as dirty on before.component_key = dirty.component_key
       where before.b is null") %}

  {%- set figures = run_query(
        "select (select count(*) from " ~ work.changed_nodes ~ "),
                (select count(*) from " ~ work.dirty_components ~ "),
                (select count(*) from " ~ previous_state ~ " where b is null and a = component_key),
                (select count(*) from " ~ work.dirty_nodes ~ ")").rows[0] -%}
  {% do log(this.identifier ~ ": incremental: " ~ figures[0] ~ " nodes gained or lost an edge; "
        ~ figures[1] ~ " of " ~ figures[2] ~ " previous components are dirty; recomputing "
        ~ figures[3] ~ " nodes", info=True) %}
  {{ return({'edges_sql':
      'select today.a, today.b from ' ~ work.input ~ ' as today inner join ' ~ work.dirty_nodes
      ~ ' as dirty on today.a = dirty.node_key'}) }}
{% endmacro %}


{#- The next state: a row per edge (a, b, component_key) and per node (a = node_key, b null,
    component_key): the recomputed ones (work.resolved: node_key -> component_key) and the previous
    state's rows of clean components as they were. -#}
{% macro connected_components_state_sql(work, previous_state) %}
  {%- set recomputed -%}
    select edges.a, edges.b, resolved.component_key
    from {{ work.input }} as edges
    inner join {{ work.resolved }} as resolved on edges.a = resolved.node_key

    union all

    select node_key as a, cast(null as bigint) as b, component_key
    from {{ work.resolved }}
  {%- endset -%}
  {%- if previous_state is none -%}
    {{ return(recomputed) }}
  {%- endif -%}
  {{ return(recomputed ~ "
    union all
    select before.a, before.b, before.component_key
    from " ~ previous_state ~ " as before
    left join " ~ work.dirty_components ~ " as dirty on before.component_key = dirty.component_key
    where dirty.component_key is null") }}
{% endmacro %}


{#- Rounds of hook / compress / contract over edges_sql (columns a < b) until no crossing edge is
    left or max_rounds ran out. Returns converged and one dict of figures per round. -#}
{% macro connected_components_rounds(edges_sql, work, max_rounds) %}
  {% do connected_components_create(work.edges, edges_sql) %}
  {% do connected_components_create(work.first,
      "select cast(null as bigint) as node_key, cast(null as bigint) as parent_key limit 0") %}
  {% do connected_components_create(work.later,
      "select cast(null as bigint) as node_key, cast(null as bigint) as parent_key,
              cast(null as boolean) as is_final limit 0") %}

  {%- set ns = namespace(
        edges=work.edges, edges_next=work.edges_next,
        edge_count=connected_components_scalar('select count(*) from ' ~ work.edges),
        clusters_left=none, merged_total=0, rounds=[]) -%}

  {%- for round_number in range(1, max_rounds + 1) -%}
    {%- if ns.edge_count == 0 -%}{%- break -%}{%- endif -%}
    {%- set started = modules.datetime.datetime.now() -%}
    {#- round 1 counts its nodes from the output instead: counting the distinct ends of the full
        edge list would cost as much as a round. -#}
    {%- set nodes = none if round_number == 1 else ns.clusters_left -%}

    {% do connected_components_create(work.parents,
        "select b as node_key, min(a) as parent_key, false as is_final from " ~ ns.edges ~ " group by b") %}
    {%- set compressed = connected_components_compress(work.parents, work.parents_next) -%}
    {%- set parents = compressed.relation -%}
    {%- set merged = connected_components_scalar('select count(*) from ' ~ parents) -%}

    {#- every b hooked, so its parent always exists; a may be a root. -#}
    {% do connected_components_create(ns.edges_next,
        "select distinct
             least(coalesce(pa.parent_key, e.a), pb.parent_key) as a,
             greatest(coalesce(pa.parent_key, e.a), pb.parent_key) as b
         from " ~ ns.edges ~ " as e
         inner join " ~ parents ~ " as pb on pb.node_key = e.b
         left join " ~ parents ~ " as pa on pa.node_key = e.a
         where coalesce(pa.parent_key, e.a) <> pb.parent_key") %}

    {% if round_number == 1 %}
      {% do adapter.drop_relation(work.first) %}
      {% do adapter.rename_relation(parents, work.first) %}
    {% else %}
      {% call statement('cc_record') -%}
        insert into {{ work.later }} (node_key, parent_key, is_final)
        select node_key, parent_key, false from {{ parents }}
      {%- endcall %}
    {% endif %}

    {%- set edges_left = connected_components_scalar('select count(*) from ' ~ ns.edges_next) -%}
    {%- set clusters_left = connected_components_scalar(
          'select count(*) from (select a from ' ~ ns.edges_next ~ ' union select b from '
          ~ ns.edges_next ~ ') as labels') if edges_left > 0 else 0 -%}
    {%- set ns.merged_total = ns.merged_total + merged -%}
    {%- set seconds = connected_components_seconds(started) -%}
    {% do ns.rounds.append({
        'round_number': round_number, 'nodes': nodes, 'edges': ns.edge_count,
        'clusters_merged': merged, 'merged_total': ns.merged_total, 'pointer_jumps': compressed.jumps,
        'edges_left': edges_left, 'clusters_left': clusters_left, 'seconds': seconds}) %}
    {% do log(this.identifier ~ ": round " ~ round_number ~ ": " ~ ns.edge_count ~ " crossing edges"
          ~ (" between " ~ nodes ~ " clusters" if nodes is not none else "") ~ ", " ~ merged
          ~ " clusters merged (" ~ compressed.jumps ~ " pointer jumps), " ~ edges_left
          ~ " crossing edges left between " ~ clusters_left ~ " clusters, " ~ seconds ~ " s", info=True) %}

    {%- set ns.edge_count = edges_left -%}
    {%- set ns.clusters_left = clusters_left -%}
    {%- set swap = ns.edges -%}
    {%- set ns.edges = ns.edges_next -%}
    {%- set ns.edges_next = swap -%}
  {%- endfor -%}

  {{ return({'converged': ns.edge_count == 0, 'rounds': ns.rounds}) }}
{% endmacro %}


{#- Pointer jumping on a forest (node_key -> parent_key, parent_key < node_key, is_final) until every parent
    is a root. A row is marked final once its parent is seen to be a root (it never changes again),
    so stability is a cheap scan instead of another self-join; the scratch table is used
    alternately. Returns the relation holding (node_key, parent_key) and the number of jumps. -#}
{% macro connected_components_compress(relation, scratch) %}
  {%- set ns = namespace(current=relation, other=scratch, jumps=0) -%}
  {#- each jump halves the depth, so 64 jumps cover any forest of 64-bit keys. -#}
  {%- for _ in range(65) -%}
    {%- set pending = connected_components_scalar(
          "select count(*) from " ~ ns.current ~ " where not is_final") -%}
    {%- if pending == 0 -%}{%- break -%}{%- endif -%}
    {% do connected_components_create(ns.other,
        "select
             p.node_key,
             coalesce(q.parent_key, p.parent_key) as parent_key,
             p.is_final or q.node_key is null as is_final
         from " ~ ns.current ~ " as p
         left join " ~ ns.current ~ " as q on q.node_key = p.parent_key and not p.is_final") %}
    {%- set swap = ns.current -%}
    {%- set ns.current = ns.other -%}
    {%- set ns.other = swap -%}
    {%- set ns.jumps = ns.jumps + 1 -%}
  {%- endfor -%}
  {{ return({'relation': ns.current, 'jumps': ns.jumps}) }}
{% endmacro %}


{#- Every node with an edge -> its component: round 1's parents resolved through the later
    rounds' (compressed) parents, the later rounds' own rows, and each component's root. -#}
{% macro connected_components_final_sql(relation, first, later) %}
create table {{ relation }} as
with non_roots as (

    select
        first_round.node_key,
        coalesce(later_rounds.parent_key, first_round.parent_key) as component_key
    from {{ first }} as first_round
    left join {{ later }} as later_rounds on later_rounds.node_key = first_round.parent_key

    union all

    select node_key, parent_key as component_key
    from {{ later }}

),

roots as (

    select distinct component_key as node_key, component_key
    from non_roots

)

select node_key, component_key from non_roots
union all
select node_key, component_key from roots
{% endmacro %}


{#- One row per round in the log table, created on first use. -#}
{% macro connected_components_log(log_relation, rounds, nodes, components) %}
  {% call statement('cc_log_table') -%}
    create table if not exists {{ log_relation }} (
        airflow_run_id varchar,
        invocation_id varchar,
        model_name varchar,
        round_number integer,
        nodes bigint,
        edges bigint,
        clusters_merged bigint,
        pointer_jumps integer,
        edges_left bigint,
        clusters_left bigint,
        components bigint,
        seconds double precision,
        converged boolean,
        recorded_at timestamp
    )
  {%- endcall %}
  {% if rounds | length > 0 %}
    {% call statement('cc_log_rows') -%}
      insert into {{ log_relation }} (
          airflow_run_id, invocation_id, model_name, round_number, nodes, edges, clusters_merged,
          pointer_jumps, edges_left, clusters_left, components, seconds, converged, recorded_at
      )
      values
      {% for r in rounds -%}
      (
          {{ sql_string_literal(var("airflow_run_id", "")) }},
          {{ sql_string_literal(invocation_id) }},
          {{ sql_string_literal(this.identifier) }},
          {{ r.round_number }},
          {{ (nodes if r.round_number == 1 else r.nodes) if (nodes if r.round_number == 1 else r.nodes) is not none else 'null' }},
          {{ r.edges }},
          {{ r.clusters_merged }},
          {{ r.pointer_jumps }},
          {{ r.edges_left }},
          {{ r.clusters_left }},
          {{ (nodes - r.merged_total) if nodes is not none else 'null' }},
          {{ r.seconds }},
          {{ 'true' if components is not none else 'false' }},
          {{ dbt.current_timestamp() }}
      ){{ ',' if not loop.last }}
      {% endfor %}
    {%- endcall %}
  {% endif %}
{% endmacro %}
