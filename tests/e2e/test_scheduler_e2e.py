"""customer_360 under a real Airflow: api-server, scheduler, dag-processor and triggerer on loopback
(SQLite metadata DB, temp AIRFLOW_HOME, LocalExecutor), driven only over the REST API the way an
operator or another system would: token, unpause, trigger with params, poll, read task instances.

Every process is started in its own process group and the whole group is killed at the end, also
when the test fails."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.conftest import BIN, airflow_env, run_airflow

pytestmark = pytest.mark.slow

DAG_ID = "customer_360"
EXPORT_DAG_ID = "customer_features_export"
USER = "c360-tester"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
LAYERS = ("load_sources", "staging", "stitching", "marts", "analytics", "dq_gate")
START_TIMEOUT = 120
# Measured here (2 cores): 64 tasks strictly one after another (SQLite gives LocalExecutor one slot,
# and the DuckDB pool one writer), ~10 s each, most of it a task's start-up and dbt's import and
# parse rather than SQL; about 11 minutes in all. The bound leaves room for a slower CI machine.
RUN_TIMEOUT = 1200
EXPORT_TIMEOUT = 300


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def login(self, password: str) -> None:
        status, body = self.call("POST", "/auth/token", {"username": USER, "password": password})
        assert status in (200, 201), (status, body)
        self.token = body["access_token"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(processes: list[subprocess.Popen]) -> None:
    for proc in processes:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in processes:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        # The group also holds the task and parsing children a component forked.
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Stack:
    """The running components; unpacks as (api, password, env)."""

    api: Api
    password: str
    env: dict[str, str]
    home: Path
    processes: dict[str, subprocess.Popen]

    def __iter__(self) -> Iterator:
        return iter((self.api, self.password, self.env))

    def start(self, component: str, **extra_env: str) -> None:
        log = (self.home / f"{component}.log").open("a")
        self.processes[component] = subprocess.Popen(
            [str(BIN / "airflow"), component], env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=self.home)

    def restart(self, component: str, **extra_env: str) -> None:
        _stop([self.processes.pop(component)])
        self.start(component, **extra_env)


@contextmanager
def airflow_stack(home: Path, warehouse: Path, **extra_env: str) -> Iterator[Stack]:
    port = _free_port()
    password = secrets.token_urlsafe(16)
    (home / "passwords.json").write_text(json.dumps({USER: password}))
    env = airflow_env(
        home, warehouse,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USER}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        # Only the runs this test triggers: no scheduled run appears when the DAG is unpaused.
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        # No network here: Cosmos' usage ping would only wait for its timeout in every task.
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        DO_NOT_TRACK="1",
        **extra_env,
    )
    # A fresh metadata DB: runs left in the project's own one (a killed `make run`) would count.
    for args in (("db", "migrate"), ("pools", "set", "duckdb", "1", "DuckDB takes one writing process")):
        done = run_airflow(env, *args, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    api = Api(f"http://127.0.0.1:{port}")
    stack = Stack(api, password, env, home, {})
    try:
        for component in COMPONENTS:
            stack.start(component)
        _wait(lambda: api.call("GET", "/api/v2/monitor/health")[0] == 200, START_TIMEOUT, "api-server", home,
              list(stack.processes.values()))
        api.login(password)
        yield stack
    finally:
        _stop(list(stack.processes.values()))


def _logs(home: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(home.glob("*.log")))


def _wait(ready, timeout: float, what: str, home: Path, processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p.args[1] for p in processes if p.poll() is not None]
        assert not dead, f"{dead} exited\n{_logs(home)}"
        try:
            if ready():
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(2)
    pytest.fail(f"{what} not ready within {timeout} s\n{_logs(home)}")


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_customer_360_runs_under_a_real_scheduler_triggered_over_rest(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    home.mkdir()
    warehouse = tmp_path / "warehouse.duckdb"
    conf = {"num_customers": 30, "seed": 5, "stitch_max_user_ids_per_anonymous_id": 4,
            "reference_date": "2026-02-01"}

    exports = tmp_path / "exports"
    with airflow_stack(home, warehouse, C360_EXPORT_DIR=str(exports)) as stack:
        api = stack.api
        for dag_id in (DAG_ID, EXPORT_DAG_ID):
            _wait(lambda d=dag_id: api.call("GET", f"/api/v2/dags/{d}")[0] == 200, START_TIMEOUT, "DAG parse",
                  home, [])
            status, body = api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
            assert status == 200 and body["is_paused"] is False, body

        # Refused by the params' schemas before any run exists.
        for bad in ({"num_customers": -5}, {"target": "snowflake"}, {"reference_date": "yesterday"}):
            status, body = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": bad})
            assert 400 <= status < 500, (bad, status, body)
        assert api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")[1]["total_entries"] == 0

        started = time.monotonic()
        status, run = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": conf})
        assert status in (200, 201), (status, run)
        run_id = run["dag_run_id"]
        quoted = urllib.request.quote(run_id, safe="")
        state = run["state"]
        while state not in ("success", "failed") and time.monotonic() - started < RUN_TIMEOUT:
            time.sleep(3)
            state = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}")[1]["state"]
        print(f"\ncustomer_360 over REST: {state} in {time.monotonic() - started:.0f} s")
        _, tis = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances?limit=500")
        tasks = tis["task_instances"]
        assert state == "success", (
            {t["task_id"]: t["state"] for t in tasks if t["state"] != "success"}, _logs(home))
        runs = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")[1]
        assert [r["dag_run_id"] for r in runs["dag_runs"]] == [run_id]

        # The publish task's asset event schedules the hand-off DAG: no trigger, no timetable. Creating
        # asset-triggered runs is job scheduling, off until now (so unpausing made no scheduled run of
        # customer_360): pause customer_360 and give the scheduler its job schedule back.
        assert api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": True})[0] == 200
        stack.restart("scheduler", AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="True")

        def export_runs() -> list[dict]:
            return api.call("GET", f"/api/v2/dags/{EXPORT_DAG_ID}/dagRuns")[1].get("dag_runs", [])

        _wait(lambda: any(r["state"] in ("success", "failed") for r in export_runs()), EXPORT_TIMEOUT,
              "the asset-triggered export", home, [])
        (export_run,) = export_runs()
        assert export_run["run_type"] == "asset_triggered" and export_run["state"] == "success", export_run
        events = api.call("GET", f"/api/v2/assets/events?source_dag_id={DAG_ID}&source_run_id="
                                 f"{urllib.request.quote(run_id, safe='')}")[1]["asset_events"]

    assert len(tasks) > 50 and all(t["state"] == "success" for t in tasks)
    by_layer: dict[str, list[dict]] = {}
    for t in tasks:
        by_layer.setdefault(t["task_id"].split(".", 1)[0], []).append(t)
    assert set(LAYERS) <= set(by_layer)
    for earlier, later in pairwise(LAYERS):
        last_end = max(_dt(t["end_date"]) for t in by_layer[earlier])
        first_start = min(_dt(t["start_date"]) for t in by_layer[later])
        assert last_end <= first_start, f"{later} started before {earlier} ended"

    feature_event = next(e for e in events if e["uri"] == "c360://marts/with_user_id")
    assert feature_event["extra"]["run_id"] == run_id and feature_event["extra"]["gate_status"] in ("pass", "warn")
    (snapshot,) = exports.glob("customer_features/dt=*/*.parquet")
    assert pq.read_metadata(snapshot).num_rows == feature_event["extra"]["feature_rows"] > 0

    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in ("raw.orders", "stitching.user_id_stitcher", "marts.with_user_id", "analytics.kpi_summary"):
            assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        assert con.execute("select count(*) from audit.dbt_results where airflow_run_id = ?", [run_id]).fetchone()[0]
        gate = dict(con.execute("select check_name, status from audit.dq_gate_results where run_id = ?",
                                [run_id]).fetchall())
        assert gate and "fail" not in gate.values(), gate
        # The threshold param reached dbt: the super-connector rule names it.
        rule = con.execute("select rule from stitching.stitch_filter_effect where reason = 'super_connector'")
        assert "more than 4 user_ids" in rule.fetchone()[0]
