"""What a gate run judges against: the reference instant for freshness and the baseline run.

Comparisons with an earlier run read the observed values the gate itself recorded in
audit.dq_gate_results, so the gate needs no other history table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from include.warehouse.db import Db


@dataclass(frozen=True)
class Baseline:
    """Observed values of the latest earlier run whose gate did not fail (a failed run's numbers are the
    suspicious ones: comparing with them would hide a regression that persists)."""

    run_id: str | None = None
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    reference: datetime  # what "now" means for freshness
    reference_source: str
    baseline: Baseline
    shadow_rebuild: bool = False  # the run asked for a shadow full rebuild (param shadow_rebuild)


def load_baseline(db: Db, run_id: str) -> Baseline:
    if not db.table_exists("audit.dq_gate_results"):
        return Baseline()
    previous = db.scalar(
        """
        select run_id from audit.dq_gate_results where run_id <> ?
        group by run_id having count(case when status = 'fail' then 1 end) = 0
        order by max(checked_at) desc limit 1
        """,
        (run_id,),
    )
    if previous is None:
        return Baseline()
    values = {name: None if value is None else float(value) for name, value in db.rows(
        "select check_name, observed_value from audit.dq_gate_results where run_id = ?", (previous,))}
    return Baseline(previous, values)


def _synthetic_reference(landing_dir: str | None) -> datetime | None:
    """Synthetic landing data declares the date its timeline ends; judging its freshness against the
    wall clock would fail every demo run after that date."""
    if not landing_dir:
        return None
    # Each day the generator appends (include/synthetic/days.py) declares its own end: the latest counts.
    stamps = []
    for marker in [Path(landing_dir) / "_generator.json", *sorted(Path(landing_dir).glob("_day-*.json"))]:
        try:
            stamps.append(json.loads(marker.read_text())["reference_date"])
        except (OSError, ValueError, KeyError):
            continue
    return max((datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps), default=None)


def resolve_reference(context: dict | None = None) -> tuple[datetime, str]:
    """The instant freshness is judged against: param reference_date, else the synthetic data's own
    end date, else the end of the run's data interval (the logical date for a manual run)."""
    if context is None:
        try:
            from airflow.sdk import get_current_context

            context = dict(get_current_context())
        except Exception:  # outside a running task (unit tests, a shell)
            context = {}
    params = context.get("params") or {}
    if params.get("reference_date"):
        day = date.fromisoformat(str(params["reference_date"]))
        # The whole reference day counts as "now": data of that day is not from the future.
        return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC), "param reference_date"
    ti = context.get("ti")
    landing = None
    if ti is not None:
        try:
            landing = ti.xcom_pull(task_ids="prepare_sources")
        except Exception:
            landing = None
    synthetic = _synthetic_reference(landing)
    if synthetic is not None:
        return synthetic, "synthetic data's reference_date"
    for key in ("data_interval_end", "logical_date"):
        value = context.get(key)
        if value is not None:
            return as_aware(value), key
    return datetime.now(UTC), "wall clock (no run context)"


def as_aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
