"""Delivering an alert: log it, send it through the Airflow notifiers whose connections exist (SMTP,
Slack webhook), and record it in audit.alerts of the deployment's warehouse (DuckDB or Snowflake,
per C360_TARGET), spooling it to a local file while the warehouse is busy.

Nothing here raises: a broken notifier or a locked warehouse costs a log line, never the callback.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include import settings
from include.oncall.alert import Alert
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


def refused_run(run_id: str) -> bool:
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


SLACK_CLIENT_LOG = logging.getLogger("include.oncall.delivery.slack_client")
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
