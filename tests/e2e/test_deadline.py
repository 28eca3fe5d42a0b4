"""The run deadline under a real Airflow (api-server, scheduler, dag-processor, triggerer on loopback):
a run that outlives its budget is alerted as overdue - recorded in audit.alerts and mailed through the
SMTP notifier - while it still runs; a run that succeeds in time and one that fails in time are not.

The probe DAGs carry the deadline callbacks.run_deadline builds for customer_360, with budgets small
enough for a test. (`airflow dags test` cannot run them: see callbacks.run_deadline.)
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
import urllib.request
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import duckdb
import pytest

from tests.e2e.test_scheduler_e2e import START_TIMEOUT, Api, _dt, _logs, _wait, airflow_stack

pytestmark = pytest.mark.slow

OVERDUE_BUDGET_MINUTES = 0.25
OVERDUE_TASK_SECONDS = 120
IN_TIME_BUDGET_MINUTES = 3
PROBES = textwrap.dedent('''
    import time
    from datetime import datetime

    from airflow.sdk import DAG, task

    from include.oncall import callbacks


    def probe(dag_id, budget_minutes, seconds, fail=False):
        with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
                 deadline=callbacks.run_deadline({{"expected_run_minutes": budget_minutes,
                                                "run_deadline_enabled": True}}),
                 on_failure_callback=callbacks.run_failed,
                 default_args={{"on_failure_callback": callbacks.task_failed}}) as dag:

            @task
            def work():
                time.sleep(seconds)
                if fail:
                    raise RuntimeError("the probe fails on purpose")

            work()
        return dag


    probe("deadline_overdue", {overdue}, {seconds})
    probe("deadline_in_time", {in_time}, 0)
    probe("deadline_failed_in_time", {in_time}, 0, fail=True)
''').format(overdue=OVERDUE_BUDGET_MINUTES, seconds=OVERDUE_TASK_SECONDS, in_time=IN_TIME_BUDGET_MINUTES)


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _trigger(api: Api, dag_id: str) -> str:
    status, run = api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
    assert status in (200, 201), (status, run)
    return run["dag_run_id"]


def _run(api: Api, dag_id: str, run_id: str) -> dict:
    return api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id, safe='')}")[1]


def _alerts(warehouse: Path) -> list[tuple]:
    """audit.alerts so far, read between the short writes the Airflow processes make."""
    for _ in range(30):
        if not warehouse.exists():
            return []
        try:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                return con.execute("select dag_id, run_id, kind, delivered_via, exception, created_at "
                                   "from audit.alerts order by created_at").fetchall()
        except duckdb.CatalogException:
            return []
        except duckdb.IOException:  # a writer holds the file
            time.sleep(1)
    raise AssertionError(f"{warehouse} stayed locked for 30 s")


def test_only_a_run_past_its_deadline_is_alerted_as_overdue(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    home = tmp_path / "airflow"
    home.mkdir()
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "deadline_probes.py").write_text(PROBES)
    warehouse = tmp_path / "warehouse.duckdb"
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    smtp_connection = json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port,
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@c360.test",
                  "to": "oncall@c360.test", "timeout": 5, "retry_limit": 0}})
    try:
        with airflow_stack(home, warehouse, AIRFLOW__CORE__DAGS_FOLDER=str(dags),
                           AIRFLOW_CONN_C360_ALERTS_SMTP=smtp_connection) as (api, _, _env):
            for dag_id in ("deadline_overdue", "deadline_in_time", "deadline_failed_in_time"):
                _wait(lambda d=dag_id: api.call("GET", f"/api/v2/dags/{d}")[0] == 200, START_TIMEOUT,
                      f"{dag_id} parse", home, [])
                assert api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})[0] == 200

            # The in-time runs first, alone: LocalExecutor on SQLite runs one task at a time.
            in_time = {d: _trigger(api, d) for d in ("deadline_in_time", "deadline_failed_in_time")}
            _wait(lambda: all(_run(api, d, r)["state"] in ("success", "failed") for d, r in in_time.items()),
                  IN_TIME_BUDGET_MINUTES * 60, "the in-time runs", home, [])
            ended = {d: _run(api, d, r) for d, r in in_time.items()}
            assert {d: r["state"] for d, r in ended.items()} == {
                "deadline_in_time": "success", "deadline_failed_in_time": "failed"}, _logs(home)

            overdue = _trigger(api, "deadline_overdue")
            _wait(lambda: any(a[1] == overdue for a in _alerts(warehouse)), OVERDUE_TASK_SECONDS, "the overdue alert",
                  home, [])
            assert _run(api, "deadline_overdue", overdue)["state"] == "running"  # alerted while it runs

            # Past the in-time runs' deadlines (the scheduler checks every loop) and the overdue run's end.
            latest_deadline = max(_dt(r["queued_at"]).timestamp() for r in ended.values()) + 60 * IN_TIME_BUDGET_MINUTES
            _wait(lambda: time.time() > latest_deadline + 20
                  and _run(api, "deadline_overdue", overdue)["state"] == "success",
                  IN_TIME_BUDGET_MINUTES * 60 + OVERDUE_TASK_SECONDS, "the in-time deadlines to pass", home, [])
    finally:
        smtp.stop()

    rows = _alerts(warehouse)
    kinds = {(dag_id, run_id, kind) for dag_id, run_id, kind, *_ in rows}
    assert kinds == {
        ("deadline_overdue", overdue, "run_overdue"),
        ("deadline_failed_in_time", in_time["deadline_failed_in_time"], "task_failed"),
        ("deadline_failed_in_time", in_time["deadline_failed_in_time"], "run_failed"),
    }, rows
    (alert,) = [r for r in rows if r[2] == "run_overdue"]
    assert alert[3] == "smtp"
    assert "still running past its deadline" in alert[4] and f"({OVERDUE_BUDGET_MINUTES:g} min after" in alert[4]
    subjects = [m["Subject"] for m in inbox.mails]
    assert f"[deadline_overdue] run overdue (run) in {overdue}" in subjects, subjects
    assert not any("deadline_in_time" in s for s in subjects), subjects
