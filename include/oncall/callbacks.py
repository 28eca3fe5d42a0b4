"""The on-call callbacks Airflow calls: one structured alert per failure (include/oncall/alert.py),
delivered by include/oncall/delivery.py.

Entry points, attached by dags/customer_360.py:
- task_failed: a task's on_failure_callback. Airflow calls it only on the final failure; a try that
  will be retried calls on_retry_callback instead, so a retried-then-succeeded task never alerts.
- run_failed: the DAG's on_failure_callback. It records the run's failure; it notifies only when no
  task alert of the run was sent (a run timeout, say), so one incident pages once.
- run_overdue: the DeadlineAlert callback (runs in the triggerer) when a run outlives its budget.

Nothing here may raise into Airflow: a broken notifier or a locked warehouse costs a log line, never
the callback (a crashing callback would hide the original failure).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from include.oncall.alert import NEXT_STEPS, Alert, alert_from_task_context, layer_of, log_url, logical_date_of
from include.oncall.delivery import deliver, refused_run
from include.orchestration.run_guard import RunsOverlap
from include.warehouse import connect_warehouse

log = logging.getLogger(__name__)


def task_failed(context: dict) -> None:
    try:
        refused = isinstance(context.get("exception"), RunsOverlap)
        deliver(alert_from_task_context(context), context, attempts=0 if refused else 10)
    except Exception:
        log.exception("task failure alert could not be built")


def _task_alerts_sent(run_id: str) -> bool:
    try:
        with connect_warehouse(attempts=5) as db:
            return db.table_exists("audit.alerts") and bool(db.scalar(
                "select count(*) from audit.alerts where run_id = ? and kind = 'task_failed'", (run_id,)))
    except Exception:
        return False


def run_failed(context: dict) -> None:
    try:
        dag = context.get("dag")
        dag_run = context.get("dag_run")
        run_id = context.get("run_id") or getattr(dag_run, "run_id", "")
        ti = context.get("ti")
        task_id = getattr(ti, "task_id", "") or ""
        alert = Alert(
            kind="run_failed", dag_id=getattr(dag, "dag_id", "") or getattr(dag_run, "dag_id", ""), run_id=run_id,
            logical_date=logical_date_of(dag_run, context), layer=layer_of(task_id) if task_id else "",
            task_id=task_id, exception=str(context.get("reason") or ""),
            log_url=log_url(dag.dag_id, run_id, task_id) if dag and task_id else "",
            next_step=NEXT_STEPS.get(layer_of(task_id), "Open the run in the Airflow UI.") if task_id else
            "Open the run in the Airflow UI.",
        )
        # One incident pages once: the failed task already sent its alert.
        if refused_run(run_id):
            deliver(alert, context, notify=False, attempts=0)
        else:
            deliver(alert, context, notify=not _task_alerts_sent(run_id))
    except Exception:
        log.exception("run failure alert could not be built")


def _in_dags_test() -> bool:
    return sys.argv[1:3] == ["dags", "test"]


def run_deadline(config: dict) -> Any | None:
    """The DeadlineAlert of a run that takes longer than expected (queued-at + budget), when enabled,
    except in the `airflow dags test` process.

    Airflow 3.3.2's `dags test` (DAG.test) builds its scheduler DAG with serialize/deserialize only;
    the UUIDs that replace each deadline definition are made when the DAG is written to the metadata
    DB (SerializedDagModel.write_dag). So that DAG's `deadline` holds the encoded definitions, and
    when the run succeeds DagRun.update_state passes one to DeadlineAlertModel.get_by_id as an id:
    "'dict' object has no attribute 'hex'", and the command fails. Under a scheduler the DAG comes
    from the metadata DB with UUIDs and all works; `dags test` never checks deadlines anyway (only the
    scheduler loop does), so leaving the alert out there loses nothing."""
    if not config.get("run_deadline_enabled") or _in_dags_test():
        return None
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    minutes = float(config.get("expected_run_minutes", 90))
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=minutes),
        callback=AsyncCallback(run_overdue, kwargs={"expected_minutes": minutes}),
        name="run_overdue",
    )


def _instant(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def finished_before_deadline(context: dict) -> bool:
    """Airflow drops the deadline of a run that succeeds in time, not of one that fails in time; that
    run has already alerted as failed and is not late."""
    end = _instant((context.get("dag_run") or {}).get("end_date"))
    due = _instant((context.get("deadline") or {}).get("deadline_time"))
    return end is not None and due is not None and end <= due


def overdue_alert(context: dict, expected_minutes: float) -> Alert:
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    return Alert(
        kind="run_overdue", dag_id=dag_run.get("dag_id", ""), run_id=dag_run.get("dag_run_id", ""),
        logical_date=_instant(dag_run.get("logical_date")),
        exception=f"still {dag_run.get('state', 'running')} past its deadline {deadline.get('deadline_time')} "
                  f"({expected_minutes:g} min after it was queued)",
        next_step="Find the task still running in the grid view; a DuckDB task waiting on the 'duckdb' pool "
                  "or a lock is the usual cause.",
    )


async def run_overdue(context: dict | None = None, expected_minutes: float = 0, **_: Any) -> None:
    """DeadlineAlert callback (the triggerer awaits it). Blocking work runs in a thread."""
    context = context or {}
    try:
        if finished_before_deadline(context):
            log.info("run %s ended before its deadline: no overdue alert",
                     (context.get("dag_run") or {}).get("dag_run_id"))
            return
        alert = overdue_alert(context, expected_minutes)
        # A short wait for the warehouse: the overdue run may well hold it; the spool keeps the row.
        await asyncio.to_thread(deliver, alert, None, True, 2)
    except Exception:
        log.exception("deadline alert could not be delivered")
