"""The on-call Alert: what one failure alert holds and how it reads (subject, text, HTML), and how
a task's failure context from Airflow becomes one."""

from __future__ import annotations

import logging
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from include.warehouse import connect_warehouse

log = logging.getLogger(__name__)


EXCEPTION_LINES = 6
# What on-call does first, by layer (the task group of the failed task).
NEXT_STEPS = {
    "prepare_sources": "Check the landing directory (param source_dir) exists and is readable.",
    "load_sources": "The log names source, file and column; bad rows are in audit.rejected_rows.",
    "staging": "The log names the dbt model or test; all results: audit.dbt_results for this run.",
    "stitching": "The log names the dbt model or test; for merges run the stitching_investigation DAG.",
    "marts": "The log names the dbt model or test; all results: audit.dbt_results for this run.",
    "analytics": "The log names the dbt model or test; all results: audit.dbt_results for this run.",
    "dq_gate": "See the failing checks below and the on-call review page (/c360-review); stitching "
               "checks: run the stitching_investigation DAG on the largest cluster.",
}


@dataclass
class Alert:
    kind: str  # task_failed | run_failed | run_overdue
    dag_id: str
    run_id: str
    logical_date: datetime | None = None
    layer: str = ""
    task_id: str = ""
    try_number: int | None = None
    max_tries: int | None = None
    exception: str = ""
    log_url: str = ""
    failing_checks: list[dict] = field(default_factory=list)
    next_step: str = ""
    alert_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def subject(self) -> str:
        what = {"task_failed": f"{self.task_id} failed", "run_failed": "run failed",
                "run_overdue": "run overdue"}.get(self.kind, self.kind)
        return f"[{self.dag_id}] {what} ({self.layer or 'run'}) in {self.run_id}"

    def lines(self) -> list[tuple[str, str]]:
        rows = [("DAG", self.dag_id), ("Run", self.run_id),
                ("Logical date", f"{self.logical_date:%Y-%m-%d %H:%M} UTC" if self.logical_date else "none"),
                ("Layer", self.layer or "-"), ("Task", self.task_id or "-")]
        if self.try_number is not None:
            rows.append(("Try", f"{self.try_number} of {self.max_tries + 1 if self.max_tries is not None else '?'}"))
        rows += [("Error", self.exception or "-"), ("Log", self.log_url or "-"), ("Next step", self.next_step or "-")]
        return rows

    def checks_text(self) -> list[str]:
        return [f"{c['check_name']}: observed {c['observed_value']} vs {c['threshold']} - {c.get('detail', '')}"
                for c in self.failing_checks]

    def text(self) -> str:
        out = [self.subject, ""] + [f"{k}: {v}" for k, v in self.lines()]
        if self.failing_checks:
            out += ["", "Failing checks:"] + [f"  - {line}" for line in self.checks_text()]
        return "\n".join(out)

    def html(self) -> str:
        rows = "".join(f"<tr><th align='left'>{escape(k)}</th><td><pre style='margin:0'>{escape(str(v))}</pre>"
                       "</td></tr>" for k, v in self.lines())
        checks = ""
        if self.failing_checks:
            head = "".join(f"<th>{h}</th>" for h in ("check", "observed", "threshold", "detail"))
            body = "".join(
                "<tr>" + "".join(f"<td>{escape(str(c.get(k, '')))}</td>"
                                 for k in ("check_name", "observed_value", "threshold", "detail")) + "</tr>"
                for c in self.failing_checks)
            checks = f"<h3>Failing checks</h3><table border='1' cellpadding='4'><tr>{head}</tr>{body}</table>"
        return f"<h2>{escape(self.subject)}</h2><table>{rows}</table>{checks}"


def log_url(dag_id: str, run_id: str, task_id: str, try_number: int | None = None) -> str:
    """The Airflow 3 UI address of a task's log (same shape as RuntimeTaskInstance.log_url)."""
    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    suffix = f"?try_number={try_number}" if try_number else ""
    return f"{base}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id)}{suffix}"


def first_lines(exc: BaseException | str | None, count: int = EXCEPTION_LINES) -> str:
    if exc is None:
        return ""
    text = exc if isinstance(exc, str) else "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines = text.splitlines()
    return "\n".join(lines[:count]) + ("\n..." if len(lines) > count else "")


def layer_of(task_id: str) -> str:
    return task_id.split(".", 1)[0]


def _gate_checks(exc: BaseException | None, run_id: str) -> list[dict]:
    """The failing gate checks: from the GateFailed the gate raised, else from what it recorded."""
    cause = getattr(exc, "__cause__", None)
    failed = getattr(cause, "failed", None) or getattr(exc, "failed", None)
    if failed:
        return [{"check_name": c.check_name, "observed_value": c.observed_value, "threshold": c.threshold,
                 "detail": c.detail} for c in failed]
    try:
        with connect_warehouse(attempts=5) as db:
            rows = db.rows(
                "select check_name, observed_value, threshold, detail from audit.dq_gate_results "
                "where run_id = ? and status = 'fail' order by check_name", (run_id,))
    except Exception as err:  # the warehouse may be locked or missing; the alert goes out anyway
        log.warning("could not read the gate results of %s: %s", run_id, err)
        return []
    return [dict(zip(("check_name", "observed_value", "threshold", "detail"), r, strict=True)) for r in rows]


def logical_date_of(dag_run: Any, context: dict) -> datetime | None:
    value = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value


def alert_from_task_context(context: dict) -> Alert:
    ti = context["ti"]
    dag_run = context.get("dag_run")
    run_id = context.get("run_id") or ti.run_id
    exc = context.get("exception")
    layer = layer_of(ti.task_id)
    alert = Alert(
        kind="task_failed", dag_id=ti.dag_id, run_id=run_id, logical_date=logical_date_of(dag_run, context),
        layer=layer, task_id=ti.task_id, try_number=ti.try_number, max_tries=getattr(ti, "max_tries", None),
        exception=first_lines(exc), log_url=log_url(ti.dag_id, run_id, ti.task_id, ti.try_number),
        next_step=NEXT_STEPS.get(layer, "Read the task log."),
    )
    if ti.task_id == "dq_gate":
        alert.failing_checks = _gate_checks(exc, run_id)
    return alert


def as_dict(alert: Alert) -> dict:
    return asdict(alert)
