"""The data-quality gate: runs every check, records one row per check, decides the run.

Every threshold comes from the `gate:` section of include/pipeline.yml.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from include.quality.checks import (
    Check,
    check_dbt_tests,
    check_excluded_ids,
    check_features,
    check_freshness,
    check_shadow_rebuild,
    check_sources,
    check_stitching,
    check_volume,
    format_number,
)
from include.quality.report import format_table, record, summary
from include.quality.run_facts import RunFacts, as_aware, load_baseline, resolve_reference
from include.warehouse.db import Db

log = logging.getLogger(__name__)


class GateFailed(Exception):
    """At least one check failed; the message lists them with observed values and thresholds."""

    def __init__(self, message: str, failed: list[Check]) -> None:
        super().__init__(message)
        self.failed = failed


def run_checks(db: Db, facts: RunFacts, thresholds: dict) -> list[Check]:
    return [
        *check_dbt_tests(db, facts),
        *check_sources(db, facts, thresholds["rejected_share"]),
        *check_stitching(db, facts, thresholds["stitching"]),
        *check_excluded_ids(db, facts, thresholds["excluded_ids_jump"]),
        *check_volume(db, facts, thresholds["volume"]),
        *check_freshness(db, facts, thresholds["freshness"]),
        *check_features(db, facts, thresholds["features"]),
        *check_shadow_rebuild(db, facts),
    ]


def run_gate(
    con: Db | Any,
    run_id: str,
    thresholds: dict,
    reference: tuple[datetime, str] | None = None,
    shadow_rebuild: bool = False,
) -> list[Check]:
    """Run every check, record all of them, then fail when any failed. `con` is a Db, or a DuckDB or
    Snowflake DB-API connection; shadow_rebuild: the run asked for a shadow full rebuild."""
    db = con if isinstance(con, Db) else Db(con)
    when, source = reference or resolve_reference()
    facts = RunFacts(run_id, as_aware(when), source, load_baseline(db, run_id), shadow_rebuild)
    checks = run_checks(db, facts, thresholds)
    record(db, run_id, checks)
    # The table is the last thing logged, so the end of the task log is what on-call reads.
    log.info("data-quality gate for run %s (baseline: %s; reference: %s from %s)\n%s\n\n%s",
             run_id, facts.baseline.run_id or "none", f"{facts.reference:%Y-%m-%d %H:%M}", source,
             summary(checks), format_table(checks))
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        raise GateFailed(
            f"{len(failed)} check(s) failed: "
            + "; ".join(f"{c.check_name} observed {format_number(c.observed_value) or 'n/a'} vs {c.threshold} "
                        f"({c.detail})" for c in failed),
            failed,
        )
    return checks
