"""On-call alerts: one structured alert per failure, kept in audit.alerts of the deployment's warehouse
(DuckDB or Snowflake, per C360_TARGET) and sent through Airflow notifiers (SMTP, Slack webhook) when
their connections exist.

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
import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from include import settings
from include.orchestration.pipeline_config import load_pipeline_config
from include.orchestration.run_guard import RunsOverlap
from include.warehouse import connect_warehouse

log = logging.getLogger(__name__)

# Types both DuckDB and Snowflake know (Snowflake: timestamp = timestamp_ntz).
ALERTS_DDL = (
    "create schema if not exists audit",
    """create table if not exists audit.alerts (
        alert_id varchar, kind varchar, dag_id varchar, run_id varchar, logical_date timestamp,
        layer varchar, task_id varchar, try_number integer, max_tries integer, exception varchar,
        log_url varchar, failing_checks varchar, next_step varchar, delivered_via varchar, created_at timestamp)""",
)

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


# --- building alerts from Airflow contexts ------------------------------------------------------------


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


def _logical_date(dag_run: Any, context: dict) -> datetime | None:
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
        kind="task_failed", dag_id=ti.dag_id, run_id=run_id, logical_date=_logical_date(dag_run, context),
        layer=layer, task_id=ti.task_id, try_number=ti.try_number, max_tries=getattr(ti, "max_tries", None),
        exception=first_lines(exc), log_url=log_url(ti.dag_id, run_id, ti.task_id, ti.try_number),
        next_step=NEXT_STEPS.get(layer, "Read the task log."),
    )
    if ti.task_id == "dq_gate":
        alert.failing_checks = _gate_checks(exc, run_id)
    return alert


# --- delivery --------------------------------------------------------------------------------------


def spool_path() -> Path:
    """Alerts that could not be written (warehouse locked or unreachable) wait in this local file, on
    either target, until the next write."""
    path = settings.duckdb_path()
    return path.with_name(path.name + ".alerts-spool.jsonl")


def _naive_utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(tzinfo=None) if value and value.tzinfo else value


def _row(alert: Alert, delivered_via: str) -> tuple:
    naive = _naive_utc
    return (alert.alert_id, alert.kind, alert.dag_id, alert.run_id, naive(alert.logical_date), alert.layer,
            alert.task_id, alert.try_number, alert.max_tries, alert.exception, alert.log_url,
            json.dumps(alert.failing_checks, default=str), alert.next_step, delivered_via, naive(alert.created_at))


def _spooled() -> list[tuple]:
    spool = spool_path()
    return [tuple(json.loads(line)) for line in spool.read_text().splitlines() if line] if spool.exists() else []


def _refused_run(run_id: str) -> bool:
    """The run was refused because another run held the warehouse (its task alert is spooled, below):
    its callbacks must keep off the warehouse too, or they take DuckDB's lock between that run's tasks."""
    marker = f"{RunsOverlap.__name__}: "
    try:
        spooled = _spooled()
    except (OSError, ValueError):
        return False
    return any(r[3] == run_id and r[1] == "task_failed" and marker in str(r[9]).split("\n", 1)[0] for r in spooled)


def _spool(row: tuple) -> None:
    spool = spool_path()
    try:
        spool.parent.mkdir(parents=True, exist_ok=True)
        with spool.open("a") as f:
            f.write(json.dumps(row, default=str) + "\n")
    except OSError as spool_err:
        log.error("alert spool %s not writable either: %s", spool, spool_err)


def record_alert(alert: Alert, delivered_via: str, attempts: int = 10) -> bool:
    """Insert the alert (and any spooled ones) into audit.alerts; spool it when the warehouse is busy,
    or straight away, without opening the warehouse, when attempts is 0."""
    row = _row(alert, delivered_via)
    if attempts < 1:
        log.warning("audit.alerts not written (another run of the DAG holds the warehouse); spooled to %s",
                    spool_path())
        _spool(row)
        return False
    try:
        with connect_warehouse(attempts=attempts) as db:
            db.script(ALERTS_DDL)
            rows = [*_spooled(), row]
            db.execute_many(f"insert into audit.alerts values ({', '.join('?' * len(rows[0]))})", rows)
        spool_path().unlink(missing_ok=True)
        return True
    except Exception as err:
        log.warning("audit.alerts not written (%s); spooled to %s", err, spool_path())
        _spool(row)
        return False


def _connection(conn_id: str | None) -> Any | None:
    """The Airflow connection, or None when it is not configured (that channel is off). Inside a task
    the Task SDK resolves it; a DAG-level callback runs outside one, where the secrets backends do."""
    if not conn_id:
        return None
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception:
        pass
    try:
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)
    except Exception:
        return None


def _recipients(conn: Any) -> list[str]:
    to = (conn.extra_dejson or {}).get("to") or []
    return [a.strip() for a in (to.split(",") if isinstance(to, str) else to) if a.strip()]


def notifiers(alert: Alert) -> list[tuple[str, Callable[[dict], None]]]:
    """(channel, send) for every notifier whose Airflow connection exists."""
    cfg = load_pipeline_config().gate.get("alerts", {})
    found: list[tuple[str, Callable[[dict], None]]] = []
    smtp = _connection(cfg.get("smtp_conn_id"))
    if smtp is not None:
        to = _recipients(smtp)
        if to:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            notifier = SmtpNotifier(to=to, subject=alert.subject, html_content=alert.html(),
                                    smtp_conn_id=cfg["smtp_conn_id"])
            # notify() directly: __call__ would render the texts as Jinja, and alert texts may hold braces.
            found.append(("smtp", notifier.notify))
        else:
            log.warning("connection %s has no 'to' in its extra: e-mail alert skipped", cfg["smtp_conn_id"])
    if _connection(cfg.get("slack_webhook_conn_id")) is not None:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifier = SlackWebhookNotifier(slack_webhook_conn_id=cfg["slack_webhook_conn_id"],
                                        text=f"```{alert.text()}```")
        # The hook hands the Slack client its own logger by default, and the client logs the
        # request URL when it retries: a webhook's URL is its secret.
        notifier.hook.extra_client_args["logger"] = SLACK_CLIENT_LOG
        found.append(("slack", notifier.notify))
    return found


class _UrlRedactor(logging.Filter):
    """slack_sdk logs the request URL when it retries, and a webhook's URL is its secret."""

    pattern = re.compile(r"https?://\S+")

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.pattern.sub("<url redacted>", record.getMessage())
        record.args = ()
        return True


SLACK_CLIENT_LOG = logging.getLogger("include.oncall.alerts.slack_client")
SLACK_CLIENT_LOG.addFilter(_UrlRedactor())


def deliver(alert: Alert, context: dict | None = None, notify: bool = True, attempts: int = 10) -> list[str]:
    """Log, send and record one alert; returns the channels it went out on. Never raises."""
    log.error("ALERT %s", alert.text())
    sent: list[str] = []
    if notify:
        try:
            channels = notifiers(alert)
        except Exception as err:
            log.warning("notifiers could not be set up: %s", err)
            channels = []
        for name, send in channels:
            try:
                send(context or {})
                sent.append(name)
            except Exception as err:
                log.warning("alert not sent via %s: %s", name, err)
        if not channels:
            log.info("no alert notifier connection configured: alert logged and recorded only")
    record_alert(alert, ",".join(sent) or ("log" if notify else "none: the task alert of this run was sent"),
                 attempts=attempts)
    return sent


# --- the callbacks ------------------------------------------------------------------------------------


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
            logical_date=_logical_date(dag_run, context), layer=layer_of(task_id) if task_id else "",
            task_id=task_id, exception=str(context.get("reason") or ""),
            log_url=log_url(dag.dag_id, run_id, task_id) if dag and task_id else "",
            next_step=NEXT_STEPS.get(layer_of(task_id), "Open the run in the Airflow UI.") if task_id else
            "Open the run in the Airflow UI.",
        )
        # One incident pages once: the failed task already sent its alert.
        if _refused_run(run_id):
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


def as_dict(alert: Alert) -> dict:
    return asdict(alert)
