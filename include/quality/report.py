"""Recording and reporting a gate run: one row per check in audit.dq_gate_results, the run's
cluster-size distribution in audit.dq_cluster_sizes (stitching.user_id_stitcher only ever holds the
latest run), and the text on-call reads in the task log.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

from include.quality.checks import PROFILE_SIZES, Check, cluster_sizes, format_number
from include.warehouse.db import Db

# Types both DuckDB and Snowflake know (Snowflake: double = float, timestamp = timestamp_ntz).
RESULTS_DDL = (
    "create schema if not exists audit",
    """create table if not exists audit.dq_gate_results (
        run_id varchar, check_name varchar, layer varchar, status varchar,
        observed_value double, threshold varchar, detail varchar, checked_at timestamp)""",
    "alter table audit.dq_gate_results add column if not exists baseline_value double",
    "alter table audit.dq_gate_results add column if not exists baseline_run_id varchar",
    """create table if not exists audit.dq_cluster_sizes (
        run_id varchar, min_ids bigint, max_ids bigint, profiles bigint, checked_at timestamp)""",
)

STATUSES = ("pass", "warn", "fail")


def size_buckets(sizes: Iterable[int]) -> list[tuple[int, int, int]]:
    """(min_ids, max_ids, profiles) in powers of two (1, 2, 3-4, 5-8, ...): the distribution spans
    orders of magnitude, so a log-scale chart needs log-width buckets."""
    counts: dict[int, int] = {}
    for size in sizes:
        exponent = 0 if size <= 1 else math.ceil(math.log2(size))
        counts[exponent] = counts.get(exponent, 0) + 1
    return [(1 if e == 0 else 2 ** (e - 1) + 1, 2**e, n) for e, n in sorted(counts.items())]


def record(db: Db, run_id: str, checks: list[Check]) -> None:
    """Replace this run's gate rows, so a re-run of the gate leaves one row per check."""
    now = datetime.now(UTC).replace(tzinfo=None)
    db.script(RESULTS_DDL)
    sizes = [s[0] for s in cluster_sizes(db)] if db.table_exists(PROFILE_SIZES) else []
    rows = [(run_id, c.check_name, c.layer, c.status,
             None if c.observed_value is None or not math.isfinite(c.observed_value) else c.observed_value,
             c.threshold, c.detail, now, c.baseline_value, c.baseline_run_id) for c in checks]
    with db.transaction():
        db.execute("delete from audit.dq_gate_results where run_id = ?", (run_id,))
        db.execute_many(
            "insert into audit.dq_gate_results (run_id, check_name, layer, status, observed_value, threshold, "
            "detail, checked_at, baseline_value, baseline_run_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("delete from audit.dq_cluster_sizes where run_id = ?", (run_id,))
        db.execute_many("insert into audit.dq_cluster_sizes values (?, ?, ?, ?, ?)",
                        [(run_id, lo, hi, n, now) for lo, hi, n in size_buckets(sizes)])


def format_table(checks: list[Check]) -> str:
    headers = ("status", "check", "layer", "observed", "threshold", "previous", "detail")
    order = {"fail": 0, "warn": 1, "pass": 2}
    rows = [
        (c.status.upper(), c.check_name, c.layer, format_number(c.observed_value), c.threshold,
         format_number(c.baseline_value), c.detail[:140])
        for c in sorted(checks, key=lambda c: order.get(c.status, 3))
    ]
    widths = [max(len(str(v)) for v in col) for col in zip(headers, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers), line.format(*("-" * w for w in widths))]
    out += [line.format(*row).rstrip() for row in rows]
    return "\n".join(out)


def verdict(checks: list[Check]) -> str:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def summary(checks: list[Check]) -> str:
    counts = {s: sum(1 for c in checks if c.status == s) for s in STATUSES}
    text = f"{verdict(checks).upper()}: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail"
    for status in ("fail", "warn"):
        named = [f"{c.check_name} ({format_number(c.observed_value)} vs {c.threshold})"
                 for c in checks if c.status == status]
        if named:
            text += f"\n{status}: " + "; ".join(named)
    return text
