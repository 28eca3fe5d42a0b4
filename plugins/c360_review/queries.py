"""What the review page reads from the deployment's warehouse (DuckDB or Snowflake, include.warehouse):
read-only, one short-lived connection per request (DuckDB admits no writer while any other process
holds the file open)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from include.warehouse import connect_warehouse

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


LARGEST = "stitching:largest_cluster_ids"


def load(run_id: str | None = None, run_limit: int = 25, alert_limit: int = 50) -> PageData:
    data = PageData()
    with connect_warehouse(read_only=True) as db:
        tables = db.tables()
        data.missing = [t for t in ("audit.dq_gate_results", "audit.alerts", "audit.dq_cluster_sizes")
                        if t not in tables]
        if "audit.dq_gate_results" in tables:
            # SQL both DuckDB and Snowflake accept: no `filter (where ...)`, no bool_or; count, not sum, so the
            # counts are integers on both.
            data.runs = [RunRow(*r) for r in db.rows(
                """
                select run_id, max(checked_at) as checked_at,
                       case when max(case when status = 'fail' then 1 else 0 end) = 1 then 'fail'
                            when max(case when status = 'warn' then 1 else 0 end) = 1 then 'warn'
                            else 'pass' end as verdict,
                       count(case when status = 'pass' then 1 end) as passed,
                       count(case when status = 'warn' then 1 end) as warned,
                       count(case when status = 'fail' then 1 end) as failed,
                       max(case when check_name = ? then observed_value end) as largest_cluster
                from audit.dq_gate_results group by run_id order by max(checked_at) desc, run_id desc limit ?
                """, (LARGEST, run_limit))]
            data.selected_run = run_id or (data.runs[0].run_id if data.runs else None)
            data.checks = db.dicts(
                """
                select status, check_name, layer, observed_value, threshold, baseline_value, baseline_run_id, detail
                from audit.dq_gate_results where run_id = ?
                order by case status when 'fail' then 0 when 'warn' then 1 else 2 end, check_name
                """, (data.selected_run,))
            data.largest_trend = db.rows(
                """
                select run_id, observed_value from audit.dq_gate_results
                where check_name = ? and observed_value is not null
                order by checked_at desc, run_id desc limit ?
                """, (LARGEST, run_limit))[::-1]
        if "audit.dq_cluster_sizes" in tables and data.selected_run:
            data.cluster_sizes = db.rows(
                "select min_ids, max_ids, profiles from audit.dq_cluster_sizes where run_id = ? order by min_ids",
                (data.selected_run,))
        if "audit.alerts" in tables:
            data.alerts = db.dicts(
                """
                select created_at, kind, run_id, layer, task_id, try_number, max_tries, exception, log_url,
                       failing_checks, delivered_via
                from audit.alerts order by created_at desc limit ?
                """, (alert_limit,))
            for alert in data.alerts:
                alert["failing_checks"] = json.loads(alert["failing_checks"] or "[]")
    return data
