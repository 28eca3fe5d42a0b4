"""The data-quality gate: checks the run's results, records one row per check, decides the run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

log = logging.getLogger(__name__)

RESULTS_DDL = """
create schema if not exists audit;
create table if not exists audit.dq_gate_results (
    run_id varchar, check_name varchar, layer varchar, status varchar,
    observed_value double, threshold varchar, detail varchar, checked_at timestamp
);
"""

# Contract tables a good run must leave non-empty.
KEY_TABLES = ("stitching.user_id_stitcher", "marts.with_user_id")


@dataclass(frozen=True)
class Check:
    check_name: str
    layer: str
    status: str  # pass | warn | fail
    observed_value: float | None
    threshold: str
    detail: str = ""


class GateFailed(Exception):
    """At least one check failed; the message lists them with observed values and thresholds."""


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = $s and table_name = $t",
            {"s": schema, "t": table},
        ).fetchone()[0]
    )


def check_dbt_tests(con: duckdb.DuckDBPyConnection, run_id: str) -> list[Check]:
    """Every dbt test of the run passed; the latest result per test counts (a cleared task re-runs)."""
    if not _table_exists(con, "audit.dbt_results"):
        return [Check("dbt_tests", "dbt", "fail", None, "0 failures", "no dbt results recorded for this run")]
    rows = con.execute(
        """
        select node_name, layer, status, failures
        from audit.dbt_results
        where airflow_run_id = $run and resource_type = 'test'
        qualify row_number() over (partition by unique_id order by recorded_at desc) = 1
        order by layer, node_name
        """,
        {"run": run_id},
    ).fetchall()
    if not rows:
        return [Check("dbt_tests", "dbt", "fail", None, "0 failures", "no dbt test results recorded for this run")]
    failed = [f"{layer}/{name} ({status}, {failures} rows)" for name, layer, status, failures in rows
              if status in ("fail", "error")]
    warned = [f"{layer}/{name} ({failures} rows)" for name, layer, status, failures in rows if status == "warn"]
    status = "fail" if failed else "warn" if warned else "pass"
    detail = f"{len(rows)} tests; " + (
        "failed: " + ", ".join(failed) if failed else "warned: " + ", ".join(warned) if warned else "all passed"
    )
    return [Check("dbt_tests", "dbt", status, float(len(failed)), "0 failures", detail)]


def check_sources(con: duckdb.DuckDBPyConnection, run_id: str, rejected_share: dict) -> list[Check]:
    """Every source reconciles (read = loaded + rejected) and rejects few enough of its rows."""
    rows = con.execute(
        """
        select source, count(*) as files, sum(rows_read), sum(rows_loaded), sum(rows_rejected),
               count(*) filter (where rows_read <> rows_loaded + rows_rejected) as unbalanced_files
        from audit.load_batches where run_id = $run group by source order by source
        """,
        {"run": run_id},
    ).fetchall() if _table_exists(con, "audit.load_batches") else []
    if not rows:
        return [Check("sources_loaded", "load", "fail", 0.0, ">= 1 batch", "no load batches recorded for this run")]
    warn, fail = float(rejected_share["warn"]), float(rejected_share["fail"])
    checks = []
    for source, files, read, loaded, rejected, unbalanced in rows:
        checks.append(Check(
            f"reconcile:{source}", "load", "fail" if unbalanced else "pass", float(unbalanced),
            "0 unbalanced files",
            f"{files} files: read {read} = loaded {loaded} + rejected {rejected}" if not unbalanced
            else f"{unbalanced} of {files} files do not reconcile (read {read}, loaded {loaded}, rejected {rejected})",
        ))
        share = rejected / read if read else 0.0
        checks.append(Check(
            f"rejected_share:{source}", "load", "fail" if share > fail else "warn" if share > warn else "pass",
            share, f"warn > {warn}, fail > {fail}", f"{rejected} of {read} rows rejected (see audit.rejected_rows)",
        ))
    return checks


def check_key_tables(con: duckdb.DuckDBPyConnection) -> list[Check]:
    checks = []
    for table in KEY_TABLES:
        count = con.execute(f"select count(*) from {table}").fetchone()[0] if _table_exists(con, table) else 0
        checks.append(Check(f"rows:{table}", table.split(".")[0], "pass" if count else "fail", float(count), "> 0"))
    return checks


def run_checks(con: duckdb.DuckDBPyConnection, run_id: str, thresholds: dict) -> list[Check]:
    return [
        *check_dbt_tests(con, run_id),
        *check_sources(con, run_id, thresholds["rejected_share"]),
        *check_key_tables(con),
    ]


def record(con: duckdb.DuckDBPyConnection, run_id: str, checks: list[Check]) -> None:
    """Replace this run's gate rows, so a re-run of the gate leaves one row per check."""
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute(RESULTS_DDL)
    con.execute("begin transaction")
    con.execute("delete from audit.dq_gate_results where run_id = $run", {"run": run_id})
    con.executemany(
        "insert into audit.dq_gate_results values (?, ?, ?, ?, ?, ?, ?, ?)",
        [(run_id, c.check_name, c.layer, c.status, c.observed_value, c.threshold, c.detail, now) for c in checks],
    )
    con.execute("commit")


def format_table(checks: list[Check]) -> str:
    headers = ("status", "check", "layer", "observed", "threshold", "detail")
    rows = [
        (c.status.upper(), c.check_name, c.layer, "" if c.observed_value is None else f"{c.observed_value:g}",
         c.threshold, c.detail)
        for c in checks
    ]
    widths = [max(len(str(v)) for v in col) for col in zip(headers, *rows, strict=True)]
    widths[-1] = min(widths[-1], 120)
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers), line.format(*("-" * w for w in widths))]
    out += [line.format(*(str(v)[:120] for v in row)) for row in rows]
    return "\n".join(out)


def verdict(checks: list[Check]) -> str:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def run_gate(con: duckdb.DuckDBPyConnection, run_id: str, thresholds: dict) -> list[Check]:
    """Run every check, record all of them, then fail when any failed."""
    checks = run_checks(con, run_id, thresholds)
    record(con, run_id, checks)
    table = format_table(checks)
    result = verdict(checks)
    log.info("data-quality gate for run %s: %s\n%s", run_id, result.upper(), table)
    if result == "fail":
        failed = [c for c in checks if c.status == "fail"]
        raise GateFailed(
            f"{len(failed)} check(s) failed: "
            + "; ".join(f"{c.check_name} observed {c.observed_value} vs {c.threshold} ({c.detail})" for c in failed)
            + "\n" + table
        )
    return checks
