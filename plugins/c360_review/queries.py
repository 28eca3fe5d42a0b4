"""What the review page reads from the warehouse: read-only, one short-lived connection per request
(DuckDB admits no writer while any other process holds the file open)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb

from include.warehouse.duckdb_file import connect

GATE_DAG = "customer_360"


@dataclass
class RunRow:
    run_id: str
    checked_at: object
    verdict: str
    passed: int
    warned: int
    failed: int
    largest_cluster: float | None


@dataclass
class PageData:
    runs: list[RunRow] = field(default_factory=list)
    selected_run: str | None = None
    checks: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    cluster_sizes: list[tuple[int, int, int]] = field(default_factory=list)
    largest_trend: list[tuple[str, float]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables").fetchall()}


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def load(run_id: str | None = None, run_limit: int = 25, alert_limit: int = 50) -> PageData:
    data = PageData()
    with connect(read_only=True) as con:
        tables = _tables(con)
        data.missing = [t for t in ("audit.dq_gate_results", "audit.alerts", "audit.dq_cluster_sizes")
                        if t not in tables]
        if "audit.dq_gate_results" in tables:
            data.runs = [RunRow(*r) for r in con.execute(
                """
                select run_id, max(checked_at) as checked_at,
                       case when bool_or(status = 'fail') then 'fail' when bool_or(status = 'warn') then 'warn'
                            else 'pass' end,
                       count(*) filter (where status = 'pass'), count(*) filter (where status = 'warn'),
                       count(*) filter (where status = 'fail'),
                       max(observed_value) filter (where check_name = 'stitching:largest_cluster_ids')
                from audit.dq_gate_results group by run_id order by checked_at desc limit $n
                """, {"n": run_limit}).fetchall()]
            data.selected_run = run_id or (data.runs[0].run_id if data.runs else None)
            data.checks = _dicts(con.execute(
                """
                select status, check_name, layer, observed_value, threshold, baseline_value, baseline_run_id, detail
                from audit.dq_gate_results where run_id = $run
                order by case status when 'fail' then 0 when 'warn' then 1 else 2 end, check_name
                """, {"run": data.selected_run}))
            data.largest_trend = con.execute(
                """
                select run_id, observed_value from audit.dq_gate_results
                where check_name = 'stitching:largest_cluster_ids' and observed_value is not null
                order by checked_at desc limit $n
                """, {"n": run_limit}).fetchall()[::-1]
        if "audit.dq_cluster_sizes" in tables and data.selected_run:
            data.cluster_sizes = con.execute(
                "select min_ids, max_ids, profiles from audit.dq_cluster_sizes where run_id = $run order by min_ids",
                {"run": data.selected_run}).fetchall()
        if "audit.alerts" in tables:
            data.alerts = _dicts(con.execute(
                """
                select created_at, kind, run_id, layer, task_id, try_number, max_tries, exception, log_url,
                       failing_checks, delivered_via
                from audit.alerts order by created_at desc limit $n
                """, {"n": alert_limit}))
            for alert in data.alerts:
                alert["failing_checks"] = json.loads(alert["failing_checks"] or "[]")
    return data
