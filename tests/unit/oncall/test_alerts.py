"""Alerts: built from Airflow's callback contexts, recorded in audit.alerts, sent through notifiers that
exist, never raising; and (slow) only a task's final failure alerts, not a retried try."""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from include.oncall.alert import Alert, alert_from_task_context
from include.oncall.callbacks import run_deadline, run_failed, run_overdue, task_failed
from include.oncall.delivery import record_alert, spool_path
from include.quality.checks import Check
from include.quality.gate import GateFailed

RUN = "manual__2026-11-20T10:00:00+00:00"


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "w.duckdb"
    monkeypatch.setenv("C360_DUCKDB_PATH", str(path))
    for name in ("AIRFLOW_CONN_C360_ALERTS_SMTP", "AIRFLOW_CONN_C360_ALERTS_SLACK"):
        monkeypatch.delenv(name, raising=False)
    return path


def task_context(task_id: str, exc: BaseException, try_number: int = 2, max_tries: int = 1) -> dict:
    ti = SimpleNamespace(dag_id="customer_360", task_id=task_id, run_id=RUN, try_number=try_number,
                         max_tries=max_tries)
    return {"ti": ti, "run_id": RUN, "exception": exc, "logical_date": datetime(2026, 11, 20, 10, tzinfo=UTC),
            "dag_run": SimpleNamespace(run_id=RUN, logical_date=datetime(2026, 11, 20, 10, tzinfo=UTC))}


def gate_exception() -> BaseException:
    failed = [Check("stitching:largest_cluster_ids", "stitching", "fail", 12345.0, "warn > 1000, fail > 10000",
                    "user_main_id abc")]
    try:
        try:
            raise GateFailed("1 check(s) failed: stitching:largest_cluster_ids observed 12345", failed)
        except GateFailed as inner:
            raise RuntimeError(str(inner)) from inner
    except RuntimeError as outer:
        return outer


def recorded(path: Path) -> list[dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute("select * from audit.alerts order by created_at")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_a_task_failure_alert_names_run_layer_task_try_error_and_log(warehouse: Path) -> None:
    error = RuntimeError("Database Error in model int_id_components\n  line 2\n  line 3\n4\n5\n6\n7\n8")
    task_failed(task_context("stitching.int_id_components.run", error))
    (row,) = recorded(warehouse)
    assert (row["kind"], row["dag_id"], row["run_id"], row["layer"], row["task_id"], row["try_number"]) == (
        "task_failed", "customer_360", RUN, "stitching", "stitching.int_id_components.run", 2)
    assert row["logical_date"] == datetime(2026, 11, 20, 10)
    assert row["exception"].startswith("RuntimeError: Database Error in model int_id_components")
    assert row["exception"].endswith("...") and "line 8" not in row["exception"]  # first lines only
    assert row["log_url"].endswith(
        "/dags/customer_360/runs/manual__2026-11-20T10%3A00%3A00%2B00%3A00/tasks/stitching.int_id_components.run"
        "?try_number=2")
    assert row["delivered_via"] == "log"  # no notifier connection configured
    assert "stitching_investigation" in row["next_step"]


def test_a_gate_alert_carries_the_failing_checks(warehouse: Path) -> None:
    alert = alert_from_task_context(task_context("dq_gate", gate_exception(), try_number=1, max_tries=0))
    assert alert.failing_checks == [{"check_name": "stitching:largest_cluster_ids", "observed_value": 12345.0,
                                     "threshold": "warn > 1000, fail > 10000", "detail": "user_main_id abc"}]
    assert "stitching:largest_cluster_ids: observed 12345.0 vs warn > 1000, fail > 10000" in alert.text()
    assert "Try: 1 of 1" in alert.text()


def test_a_broken_notifier_or_locked_warehouse_never_raises_and_the_alert_is_kept(
        warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An SMTP connection to a closed port: sending fails, the alert is still recorded.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_C360_ALERTS_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": closed_port,
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "a@c360.test", "to": "o@c360.test",
                  "timeout": 2, "retry_limit": 0}}))
    blocker = duckdb.connect(str(warehouse))  # another process would hold the lock like this one
    blocker.close()
    task_failed(task_context("marts.fct_orders.run", ValueError("boom")))
    assert recorded(warehouse)[0]["delivered_via"] == "log"

    # The warehouse is held by a writer in another process: the alert goes to the spool ...
    import subprocess
    import sys
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(warehouse)!r}); "
                               "print('held', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not record_alert(Alert("task_failed", "customer_360", "run_spooled"), "log", attempts=1)
    finally:
        holder.kill()
        holder.wait()
    assert spool_path().exists()
    # ... and is written with the next alert.
    task_failed(task_context("analytics.kpi_summary.run", ValueError("later")))
    assert [r["run_id"] for r in recorded(warehouse)] == [RUN, "run_spooled", RUN]
    assert not spool_path().exists()


def test_the_smtp_notifier_delivers_the_alert(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller

    mails = []

    class Inbox:
        async def handle_DATA(self, server, session, envelope) -> str:
            mails.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("AIRFLOW_CONN_C360_ALERTS_SMTP", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@c360.test",
                      "to": "oncall@c360.test, lead@c360.test", "timeout": 5, "retry_limit": 0}}))
        task_failed(task_context("dq_gate", gate_exception(), try_number=1, max_tries=0))
    finally:
        controller.stop()
    assert len(mails) == 1
    assert "[customer_360] dq_gate failed (dq_gate)" in mails[0]["Subject"]
    html = next(p.get_payload(decode=True).decode() for p in mails[0].walk() if p.get_content_type() == "text/html")
    assert "stitching:largest_cluster_ids" in html and "12345.0" in html
    assert recorded(warehouse)[0]["delivered_via"] == "smtp"


def test_the_run_level_alert_does_not_page_again_after_a_task_alert(warehouse: Path) -> None:
    dag = SimpleNamespace(dag_id="customer_360")
    run_failed({"dag": dag, "run_id": "run_without_task_alert", "reason": "timed_out"})
    task_failed(task_context("dq_gate", gate_exception(), try_number=1, max_tries=0))
    run_failed({"dag": dag, "run_id": RUN, "reason": "task_failure",
                "ti": SimpleNamespace(task_id="dq_gate")})
    rows = {(r["run_id"], r["kind"]): r["delivered_via"] for r in recorded(warehouse)}
    assert rows[("run_without_task_alert", "run_failed")] == "log"
    assert rows[(RUN, "run_failed")].startswith("none")


def test_a_refused_runs_alerts_keep_off_the_warehouse_the_other_run_holds(warehouse: Path) -> None:
    """A run refused because another run is active must not take DuckDB's lock between that run's tasks:
    both its alerts wait in the spool (the warehouse file is not even opened) and land with the next one."""
    from include.orchestration.run_guard import RunsOverlap

    refused = "manual__refused"
    context = task_context("prepare_sources", RunsOverlap("1 other customer_360 run(s) are running"))
    context["run_id"] = refused
    task_failed(context)
    run_failed({"dag": SimpleNamespace(dag_id="customer_360"), "run_id": refused, "reason": "task_failure",
                "ti": SimpleNamespace(task_id="prepare_sources")})
    assert not warehouse.exists()
    assert [json.loads(line)[1] for line in spool_path().read_text().splitlines()] == [
        "task_failed", "run_failed"]
    task_failed(task_context("marts.fct_orders.run", ValueError("later")))
    rows = {(r["run_id"], r["kind"]): r for r in recorded(warehouse)}
    assert rows[(refused, "task_failed")]["exception"].startswith(
        "include.orchestration.run_guard.RunsOverlap: 1 other")
    assert rows[(refused, "run_failed")]["delivered_via"].startswith("none")  # the task alert paged already
    assert (RUN, "task_failed") in rows and not spool_path().exists()


def test_the_deadline_callback_records_an_overdue_alert(warehouse: Path) -> None:
    context = {"dag_run": {"dag_id": "customer_360", "dag_run_id": RUN, "state": "running",
                           "logical_date": "2026-11-20T10:00:00Z"},
               "deadline": {"id": "d1", "deadline_time": "2026-11-20T11:30:00Z"}}
    asyncio.run(run_overdue(context=context, expected_minutes=90))
    (row,) = recorded(warehouse)
    assert (row["kind"], row["run_id"]) == ("run_overdue", RUN)
    assert "past its deadline 2026-11-20T11:30:00Z (90 min after it was queued)" in row["exception"]


def test_the_dag_attaches_the_callbacks() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from include import settings

    dag = DagBag(dag_folder=str(settings.PROJECT_ROOT / "dags" / "customer_360.py")).dags["customer_360"]
    assert dag.on_failure_callback is run_failed

    def callbacks(value: object) -> list:
        return value if isinstance(value, list) else [value]

    # Cosmos' watcher producer task adds callbacks of its own next to ours.
    assert all(task_failed in callbacks(t.on_failure_callback) for t in dag.tasks)
    assert not any(task_failed in callbacks(t.on_retry_callback) for t in dag.tasks)
    (deadline,) = dag.deadline  # outside `airflow dags test` the run deadline is on
    assert deadline.interval.total_seconds() == 90 * 60


def test_the_deadline_alert_is_built_from_the_config_except_under_dags_test(monkeypatch) -> None:
    from airflow.sdk.definitions.deadline import DagRunQueuedAtDeadline

    from include.orchestration.pipeline_config import load_pipeline_config

    assert load_pipeline_config().gate["alerts"]["run_deadline_enabled"] is True
    assert run_deadline({"expected_run_minutes": 90}) is None  # switched off in the config
    deadline = run_deadline({"expected_run_minutes": 45, "run_deadline_enabled": True})
    assert isinstance(deadline.reference, DagRunQueuedAtDeadline)
    assert deadline.interval.total_seconds() == 45 * 60
    assert deadline.callback.path == "include.oncall.callbacks.run_overdue"
    # Airflow 3.3.2's `dags test` crashes on a deadline when the run succeeds (see run_deadline).
    monkeypatch.setattr("sys.argv", ["/venv/bin/airflow", "dags", "test", "customer_360"])
    assert run_deadline({"expected_run_minutes": 45, "run_deadline_enabled": True}) is None


def test_a_run_that_failed_before_its_deadline_is_not_reported_overdue(warehouse: Path) -> None:
    def context(run_id: str, state: str, end_date: str | None) -> dict:
        return {"dag_run": {"dag_id": "customer_360", "dag_run_id": run_id, "state": state, "end_date": end_date,
                            "logical_date": None},
                "deadline": {"id": "d", "deadline_time": datetime(2026, 11, 20, 11, 30, tzinfo=UTC)}}

    asyncio.run(run_overdue(context=context("failed_early", "failed", "2026-11-20T10:05:00Z"),
                            expected_minutes=90))
    asyncio.run(run_overdue(context=context("failed_late", "failed", "2026-11-20T11:45:00Z"),
                            expected_minutes=90))
    asyncio.run(run_overdue(context=context("still_running", "running", None), expected_minutes=90))
    assert [r["run_id"] for r in recorded(warehouse)] == ["failed_late", "still_running"]


RETRY_DAG = textwrap.dedent('''
    from datetime import datetime, timedelta
    from pathlib import Path

    from airflow.sdk import DAG, task

    from include.oncall import callbacks

    MARKER = Path({marker!r})

    with DAG("alert_retry_probe", schedule=None, start_date=datetime(2026, 1, 1),
             default_args={{"on_failure_callback": callbacks.task_failed, "retries": 1,
                           "retry_delay": timedelta(seconds=1)}}):

        @task
        def flaky():
            if not MARKER.exists():
                MARKER.touch()
                raise RuntimeError("first try fails")

        @task
        def broken():
            raise RuntimeError("fails every try")

        flaky()
        broken()
''')


@pytest.mark.slow
def test_only_the_final_failure_alerts_not_a_retried_try(airflow_home: Path, tmp_path: Path) -> None:
    from tests.conftest import airflow_env, run_airflow

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "alert_retry_probe.py").write_text(RETRY_DAG.format(marker=str(tmp_path / "flaky-tried")))
    warehouse = tmp_path / "w.duckdb"
    env = airflow_env(airflow_home, warehouse, AIRFLOW__CORE__DAGS_FOLDER=str(dags))
    proc = run_airflow(env, "dags", "test", "alert_retry_probe", timeout=600)
    output = proc.stdout + proc.stderr
    assert (tmp_path / "flaky-tried").exists(), output[-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select kind, task_id, try_number from audit.alerts order by created_at").fetchall()
    # flaky failed once, was retried and succeeded: no alert. broken alerted once, on its last try.
    assert rows == [("task_failed", "broken", 2)], output[-4000:]
