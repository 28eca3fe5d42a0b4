"""The gate's checks: the Check record and one function per concern (dbt tests, source loads,
stitching health, excluded ids, volumes, freshness, feature sanity, the shadow full rebuild), each
returning Checks.

The SQL is what DuckDB and Snowflake both accept, run through include/warehouse/db.py (`?`
placeholders, one statement per call, case-blind catalog lookups).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from include import settings
from include.publishing.shadow import AUDIT_TABLE, recorded
from include.quality.run_facts import RunFacts, as_aware
from include.warehouse.db import Db, split_name


@dataclass(frozen=True)
class Check:
    check_name: str
    layer: str
    status: str  # pass | warn | fail
    observed_value: float | None
    threshold: str
    detail: str = ""
    baseline_value: float | None = None
    baseline_run_id: str | None = None


def _graded(value: float, warn: float | None, fail: float | None) -> str:
    """pass / warn / fail for a value where bigger is worse."""
    if fail is not None and value > fail:
        return "fail"
    if warn is not None and value > warn:
        return "warn"
    return "pass"


def _limits(spec: dict) -> str:
    return ", ".join(f"{k} > {spec[k]:g}" for k in ("warn", "fail") if spec.get(k) is not None)


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if abs(value) < 1 and value != 0 else f"{value:,.4g}" if abs(value) >= 1e6 else f"{value:g}"


def _test_nodes() -> dict[str, dict]:
    """Test nodes of dbt's manifest, to name the model a test guards and where stored failures live."""
    try:
        manifest = json.loads(settings.DBT_MANIFEST.read_text())
    except (OSError, ValueError):
        return {}
    return {uid: node for uid, node in manifest.get("nodes", {}).items() if node.get("resource_type") == "test"}


def _tested_model(node: dict) -> str:
    attached = node.get("attached_node") or next(iter(node.get("depends_on", {}).get("nodes", [])), "")
    return attached.rsplit(".", 1)[-1] if attached else "?"


def check_dbt_tests(db: Db, facts: RunFacts) -> list[Check]:
    """Every dbt test of the run passed; the latest result per test counts (a cleared task re-runs).
    One summary row, plus a row per failing or warning test naming its model."""
    if not db.table_exists("audit.dbt_results"):
        return [Check("dbt_tests", "dbt", "fail", None, "0 failures", "no dbt results recorded for this run")]
    rows = db.rows(
        """
        select unique_id, node_name, layer, status, failures, message
        from audit.dbt_results
        where airflow_run_id = ? and resource_type = 'test'
        qualify row_number() over (partition by unique_id order by recorded_at desc) = 1
        order by layer, node_name
        """,
        (facts.run_id,),
    )
    if not rows:
        return [Check("dbt_tests", "dbt", "fail", None, "0 failures", "no dbt test results recorded for this run")]
    nodes = _test_nodes()
    per_test: list[Check] = []
    for unique_id, name, layer, status, failures, message in rows:
        if status not in ("fail", "error", "warn"):
            continue
        node = nodes.get(unique_id, {})
        detail = f"model {_tested_model(node)}"
        if node.get("config", {}).get("store_failures"):
            detail += f"; failing rows in {node.get('relation_name') or node['schema'] + '.' + node['alias']}"
        elif message:
            detail += f"; {message.splitlines()[0][:200]}"
        per_test.append(Check(
            f"dbt_test:{name}", layer or "dbt", "warn" if status == "warn" else "fail",
            float(failures) if failures is not None else None, "0 failing rows", detail,
        ))
    failed = [c for c in per_test if c.status == "fail"]
    warned = [c for c in per_test if c.status == "warn"]
    listing = ", ".join(f"{c.check_name.split(':', 1)[1]} on {c.detail.split(';')[0][6:]}" for c in failed or warned)
    detail = f"{len(rows)} tests; " + (f"failed: {listing}" if failed else f"warned: {listing}" if warned
                                       else "all passed")
    summary = Check("dbt_tests", "dbt", "fail" if failed else "warn" if warned else "pass", float(len(failed)),
                    "0 failures", detail)
    return [summary, *per_test]


def check_sources(db: Db, facts: RunFacts, rejected_share: dict) -> list[Check]:
    """Every source reconciles (read = loaded + rejected) and rejects few enough of its rows."""
    rows = db.rows(
        """
        select source, count(*) as files, sum(rows_read), sum(rows_loaded), sum(rows_rejected),
               count(case when rows_read <> rows_loaded + rows_rejected then 1 end) as unbalanced_files
        from audit.load_batches where run_id = ? group by source order by source
        """,
        (facts.run_id,),
    ) if db.table_exists("audit.load_batches") else []
    if not rows:
        # Loads are incremental (include/loading/batches.py): a run whose landing files were all loaded
        # before reads none and records no batch; that is no failure once earlier runs loaded files.
        earlier = db.scalar("select count(*) from audit.load_batches") if db.table_exists("audit.load_batches") else 0
        if earlier:
            return [Check("sources_loaded", "load", "pass", 0.0, ">= 1 batch, or none new",
                          f"no new or changed landing file in this run; {int(earlier)} batches of earlier runs")]
        return [Check("sources_loaded", "load", "fail", 0.0, ">= 1 batch", "no load batches recorded for this run")]
    checks = []
    for source, *counts in rows:
        # Snowflake returns sums as Decimal or float, DuckDB as int.
        files, read, loaded, rejected, unbalanced = (int(n) for n in counts)
        checks.append(Check(
            f"reconcile:{source}", "load", "fail" if unbalanced else "pass", float(unbalanced),
            "0 unbalanced files",
            f"{files} files: read {read} = loaded {loaded} + rejected {rejected}" if not unbalanced
            else f"{unbalanced} of {files} files do not reconcile (read {read}, loaded {loaded}, rejected {rejected})",
        ))
        share = rejected / read if read else 0.0
        checks.append(Check(
            f"rejected_share:{source}", "load", _graded(share, rejected_share.get("warn"), rejected_share.get("fail")),
            share, _limits(rejected_share),
            f"{rejected} of {read} rows rejected ({share:.2%}); reasons in audit.rejected_rows",
        ))
    return checks


# One row per profile with its id counts, built by the stitching layer for marts, QA models and the gate.
PROFILE_SIZES = "stitching.int_profile_sizes"


def cluster_sizes(db: Db) -> list[tuple[int, int, int]]:
    """(ids, user_ids, anonymous_ids) per profile of the identity graph."""
    return [tuple(int(n) for n in row) for row in db.rows(
        f"select id_count, user_id_count, anonymous_id_count from {PROFILE_SIZES}"
    )]


def check_stitching(db: Db, facts: RunFacts, spec: dict) -> list[Check]:
    """Profile-size health: a giant or fast-growing cluster usually means a filter missed a shared id."""
    for table in ("stitching.user_id_stitcher", PROFILE_SIZES):
        if not db.table_exists(table):
            return [Check("stitching:identity_graph", "stitching", "fail", None, "table exists", f"{table} is missing")]
    sizes = cluster_sizes(db)
    if not sizes:
        return [Check("stitching:identity_graph", "stitching", "fail", 0.0, "> 0 profiles",
                      "the identity graph is empty")]
    ids = sorted(s[0] for s in sizes)
    largest, median = float(ids[-1]), float(statistics.median(ids))
    limit = int(spec.get("profile_user_ids_limit", 5))
    crowded = sum(1 for s in sizes if s[1] > limit)
    share = crowded / len(sizes)
    top = db.scalar(f"select user_main_id from {PROFILE_SIZES} order by id_count desc, user_main_id limit 1")
    largest_spec, median_spec, share_spec = (spec["largest_cluster_ids"], spec["median_cluster_ids"],
                                             spec["share_profiles_over_user_id_limit"])
    return [
        Check("stitching:largest_cluster_ids", "stitching",
              _graded(largest, largest_spec.get("warn"), largest_spec.get("fail")), largest, _limits(largest_spec),
              f"user_main_id {top}; investigate with the stitching_investigation DAG",
              facts.baseline.values.get("stitching:largest_cluster_ids"), facts.baseline.run_id),
        Check("stitching:median_cluster_ids", "stitching",
              _graded(median, median_spec.get("warn"), median_spec.get("fail")), median, _limits(median_spec),
              f"{len(sizes)} profiles, {sum(ids)} ids"),
        Check(f"stitching:share_profiles_over_{limit}_user_ids", "stitching",
              _graded(share, share_spec.get("warn"), share_spec.get("fail")), share, _limits(share_spec),
              f"{crowded} of {len(sizes)} profiles hold more than {limit} user_ids"),
    ]


def _jump(current: float, previous: float | None) -> float | None:
    if previous is None:
        return None
    if previous == 0:
        return 0.0 if current == 0 else math.inf
    return current / previous - 1


def check_excluded_ids(db: Db, facts: RunFacts, spec: dict) -> list[Check]:
    """Excluded-id counts per reason vs the baseline run: a jump means the data or a rule changed."""
    if not db.table_exists("stitching.excluded_ids"):
        return [Check("excluded_ids", "stitching", "fail", None, "table exists", "stitching.excluded_ids is missing")]
    counts = dict(db.rows("select reason, count(*) from stitching.excluded_ids group by reason"))
    previous = {k.split(":", 1)[1]: v for k, v in facts.baseline.values.items() if k.startswith("excluded_ids:")}
    warn = float(spec["warn"])
    checks = []
    for reason in sorted(set(counts) | set(previous)):
        current, before = float(counts.get(reason, 0)), previous.get(reason)
        change = _jump(current, before)
        status = "warn" if change is not None and change > warn else "pass"
        detail = ("no earlier passing run to compare with" if facts.baseline.run_id is None
                  else f"{format_number(before) or 0} in {facts.baseline.run_id}" + (
                      f" ({change:+.0%})" if change is not None and math.isfinite(change) else ""))
        checks.append(Check(f"excluded_ids:{reason}", "stitching", status, current,
                            f"warn on > {warn:+.0%} vs previous run", detail, before, facts.baseline.run_id))
    return checks


def check_volume(db: Db, facts: RunFacts, spec: dict) -> list[Check]:
    """Row counts of key tables: never empty, and within the allowed change vs the baseline run."""
    change_warn = float(spec["change"]["warn"])
    checks = []
    for table in spec["tables"]:
        name = f"rows:{table}"
        count = float(db.scalar(f"select count(*) from {table}")) if db.table_exists(table) else 0.0
        before = facts.baseline.values.get(name)
        change = _jump(count, before)
        if count == 0:
            status, detail = "fail", "empty or missing"
        elif change is None:
            status, detail = "pass", "no earlier passing run to compare with"
        else:
            status = "warn" if abs(change) > change_warn else "pass"
            detail = f"{format_number(before)} in {facts.baseline.run_id}"
            if math.isfinite(change):
                detail += f" ({change:+.0%})"
        checks.append(Check(name, split_name(table)[0], status, count,
                            f"> 0; warn outside ±{change_warn:.0%} vs previous run", detail, before,
                            facts.baseline.run_id))
    return checks


def check_freshness(db: Db, facts: RunFacts, spec: dict) -> list[Check]:
    """Newest event per source no older than the allowed lag before the run's reference instant."""
    lag = spec["max_lag_days"]
    checks = []
    for name, column in spec["events"].items():
        schema_table = ".".join(split_name(column)[:2])
        col = split_name(column)[2]
        if col not in db.columns(schema_table):
            checks.append(Check(f"freshness:{name}", "staging", "fail", None, _limits(lag), f"{column} is missing"))
            continue
        newest = db.scalar(f"select max({col}) from {schema_table}")
        if newest is None:
            checks.append(Check(f"freshness:{name}", "staging", "fail", None, _limits(lag),
                                f"{schema_table} has no events"))
            continue
        newest = as_aware(newest)
        days = (facts.reference - newest).total_seconds() / 86400
        status = _graded(days, lag.get("warn"), lag.get("fail"))
        detail = (f"newest {newest:%Y-%m-%d %H:%M} UTC vs reference {facts.reference:%Y-%m-%d %H:%M} "
                  f"({facts.reference_source})")
        if days < -1:
            # Events after the reference: a wrong reference_date or a clock problem upstream.
            status, detail = "warn", detail + "; events newer than the reference"
        checks.append(Check(f"freshness:{name}", "staging", status, round(days, 2), "lag days " + _limits(lag), detail))
    return checks


def _existing(db: Db, columns: Iterable[str]) -> tuple[list[tuple[str, str]], list[str]]:
    found, missing = [], []
    for column in columns:
        schema, table, col = split_name(column)
        (found if col in db.columns(f"{schema}.{table}") else missing).append(column)
    return [(".".join(split_name(c)[:2]), split_name(c)[2]) for c in found], missing


def check_features(db: Db, facts: RunFacts, spec: dict) -> list[Check]:
    """Feature sanity: amounts that cannot be negative, rates that must be shares, order counts that
    cannot exceed the orders there are."""
    checks = []
    for name, columns, predicate, threshold in (
        ("features:negative_revenue", spec["revenue_columns"], "{c} < 0", "0 rows with a negative amount"),
        ("features:rates_outside_0_1", spec["rate_columns"], "{c} < 0 or {c} > 1", "0 rows outside [0, 1]"),
    ):
        found, missing = _existing(db, columns)
        bad, parts = 0, []
        for table, col in found:
            n = int(db.scalar(f"select count(*) from {table} where {predicate.format(c=col)}"))
            bad += n
            if n:
                parts.append(f"{table}.{col}: {n}")
        status = "fail" if bad else "warn" if missing else "pass"
        detail = "; ".join(parts) or f"{len(found)} columns checked"
        if missing:
            detail += f"; not found: {', '.join(missing)}"
        checks.append(Check(name, "marts", status, float(bad), threshold, detail))

    profile_schema, profile_name, profile_col = split_name(spec["profile_orders"])
    profile_table = f"{profile_schema}.{profile_name}"
    orders_table = spec["orders_table"]
    if profile_col in db.columns(profile_table) and db.table_exists(orders_table):
        most = float(db.scalar(f"select coalesce(max({profile_col}), 0) from {profile_table}"))
        total = int(db.scalar(f"select count(*) from {orders_table}"))
        checks.append(Check("features:orders_per_profile", "marts", "fail" if most > total else "pass", float(most),
                            f"<= {total} (rows of {orders_table})", f"largest {spec['profile_orders']}"))
    else:
        checks.append(Check("features:orders_per_profile", "marts", "warn", None, f"<= rows of {orders_table}",
                            f"{spec['profile_orders']} or {orders_table} not found"))
    return checks


def check_shadow_rebuild(db: Db, facts: RunFacts) -> list[Check]:
    """The run's build equals a full rebuild (param shadow_rebuild; include/publishing/shadow.py): one
    summary row, plus a failing row per relation that differs, naming its counts."""
    threshold = "0 relations differ from a full rebuild"
    if not facts.shadow_rebuild:
        return [Check("shadow_rebuild", "build", "pass", None, threshold, "not requested (param shadow_rebuild off)")]
    diffs = recorded(db, facts.run_id)
    if not diffs:
        return [Check("shadow_rebuild", "build", "fail", None, threshold,
                      f"requested, but {AUDIT_TABLE} has no comparison for this run: did the shadow_rebuild task run?")]
    differing = [d for d in diffs if d.differs]
    detail = (f"{len(differing)} of {len(diffs)} relations differ: " + "; ".join(d.describe() for d in differing)
              + f"; shadow tables kept in <layer>__shadow, rows in {AUDIT_TABLE}" if differing
              else f"all {len(diffs)} relations equal a full rebuild")
    per_relation = [Check(f"shadow_rebuild:{d.relation}", split_name(d.relation)[0], "fail",
                          float(d.only_in_build + d.only_in_shadow or abs((d.build_rows or 0) - (d.shadow_rows or 0))),
                          "0 rows differ", d.describe()) for d in differing]
    return [Check("shadow_rebuild", "build", "fail" if differing else "pass", float(len(differing)), threshold,
                  detail), *per_relation]
