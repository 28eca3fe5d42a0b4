"""Faults injected into real processes: the warehouse missing, read-only or locked; the loader and dbt
SIGKILLed half-way through a source load, the stitching loop and a marts model, then re-run.

The kill tests build the same landing data twice: warehouse A undisturbed, warehouse B with every kill
and its retry. A retry does what Airflow does when a task is cleared: the killed load re-loads its
source, the killed dbt task re-runs its model. Then every contract table (include/contracts/
outputs.yml) must hash the same in A and B, and audit.load_batches must hold each file exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, airflow_env
from tests.support.fault_helpers import contract_hashes, dbt, kill_when, no_root_override, python, run_dbt

RUN_ID = "faults__2026-11-01"
REFERENCE = "2026-11-01"
DBT_VARS = json.dumps({"airflow_run_id": RUN_ID, "reference_date": REFERENCE})
# Big enough that the killed steps take a second or more here (order_items ~150k rows; the first
# stitching round ~1 s), small enough that both warehouses are built in about two minutes.
CUSTOMERS = 1000
KILLED_SOURCE = "order_items"
MARTS_MODEL = "fct_order_items"  # incremental: the model kind with state to get wrong


def _env(tmp: Path, warehouse: Path, name: str) -> dict[str, str]:
    target = tmp / f"dbt-target-{name}"
    target.mkdir(exist_ok=True)
    # Unbuffered: the tests watch the processes' output to kill them at a known point.
    return airflow_env(tmp / "unused-airflow-home", warehouse, C360_FAULTS_TARGET=str(target),
                       PYTHONUNBUFFERED="1", C360_DBT_TARGET="dev")


def _loader(env: dict[str, str], landing: Path, *sources: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.support.fault_helpers", str(landing), RUN_ID, *sources],
                            env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _load(env: dict[str, str], landing: Path) -> dict[str, float]:
    proc = _loader(env, landing)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-6000:]
    return {line.split()[1]: float(line.split()[2]) for line in out.splitlines() if line.startswith("done ")}


def _dbt_popen(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(dbt(env, *args, "--vars", DBT_VARS), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _build(env: dict[str, str], *select: str) -> None:
    run_dbt(env, "build", "--exclude-resource-type", "test", "unit_test", "--vars", DBT_VARS, *select)


def _gate(warehouse: Path) -> None:
    from include.orchestration.pipeline_config import load_pipeline_config
    from include.quality.gate import GateFailed, run_gate

    # The verdict is data here: both warehouses must reach the same one.
    with duckdb.connect(str(warehouse)) as con, suppress(GateFailed):
        run_gate(con, RUN_ID, load_pipeline_config().gate, reference=(datetime(2026, 11, 1, tzinfo=UTC), "test"))


def _tables(warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall()}


def _batches(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select source, file_name, run_id, rows_read, rows_loaded, rows_rejected "
                           "from audit.load_batches order by all").fetchall()


@dataclass
class Warehouses:
    landing: Path
    undisturbed: Path
    killed: Path
    kills: dict[str, str]  # what each kill interrupted, for the assertion messages


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    from include.synthetic import generate

    tmp = tmp_path_factory.mktemp("faults")
    landing = tmp / "landing"
    generate(landing, num_customers=CUSTOMERS, seed=11)

    undisturbed = tmp / "undisturbed.duckdb"
    env_a = _env(tmp, undisturbed, "a")
    load_seconds = _load(env_a, landing)
    _build(env_a)
    _gate(undisturbed)

    killed = tmp / "killed.duckdb"
    env = _env(tmp, killed, "b")
    kills = {}

    # 1. The loader, half-way through the big source: the sources before it are committed, it is not.
    proc = _loader(env, landing)
    before, after = kill_when(proc, f"start {KILLED_SOURCE}", delay=load_seconds[KILLED_SOURCE] / 2)
    assert f"done {KILLED_SOURCE}" not in before + after, "the kill came after the load had finished"
    done = [line.split()[1] for line in before.splitlines() if line.startswith("done ")]
    assert done, before
    assert f"raw.{KILLED_SOURCE}" not in _tables(killed)
    assert {b[0] for b in _batches(killed)} == set(done)  # nothing of the killed source, nothing doubled
    kills["load"] = f"killed while loading {KILLED_SOURCE} after {', '.join(done)}"
    _load(env, landing)  # the retry: every load task loads what its killed try did not commit

    # 2. The stitching loop, right after its first round is logged (later rounds, the final table and
    #    the rename are still to come); the retry re-runs the model.
    _build(env, "--select", "+int_id_components", "--exclude", "int_id_components")
    before, after = kill_when(_dbt_popen(env, "run", "--select", "int_id_components"), "int_id_components: round 1:")
    assert "components after" not in before + after, "the kill came after the stitching loop had finished"
    kills["stitching"] = before.splitlines()[-1]
    run_dbt(env, "run", "--select", "int_id_components", "--vars", DBT_VARS)

    # 3. A marts model, a moment into its SQL (it takes about a second here).
    _build(env, "--select", f"+{MARTS_MODEL}", "--exclude", "+int_id_components", MARTS_MODEL)
    before, after = kill_when(_dbt_popen(env, "run", "--select", MARTS_MODEL),
                              f"START sql incremental model marts.{MARTS_MODEL}", delay=0.25)
    assert f"OK created sql incremental model marts.{MARTS_MODEL}" not in before + after
    kills["marts"] = f"killed 0.25 s into {MARTS_MODEL}; tables after the kill: " + ", ".join(
        sorted(t for t in _tables(killed) if MARTS_MODEL in t))
    run_dbt(env, "run", "--select", MARTS_MODEL, "--vars", DBT_VARS)

    _build(env, "--exclude", f"+{MARTS_MODEL}", "+int_id_components")
    _gate(killed)
    print("kills:", json.dumps(kills, indent=1))
    return Warehouses(landing, undisturbed, killed, kills)


@pytest.mark.slow
def test_killed_and_retried_steps_give_the_undisturbed_outputs(warehouses: Warehouses) -> None:
    undisturbed, killed = contract_hashes(warehouses.undisturbed), contract_hashes(warehouses.killed)
    assert {t for t, (rows, _) in undisturbed.items() if not rows} <= {"audit.rejected_rows"}, undisturbed
    differing = {t: (undisturbed[t], killed[t]) for t in undisturbed if undisturbed[t] != killed[t]}
    assert not differing, (differing, warehouses.kills)


@pytest.mark.slow
def test_load_batches_hold_every_file_once_after_the_killed_load(warehouses: Warehouses) -> None:
    batches = _batches(warehouses.killed)
    keys = [(source, file_name) for source, file_name, *_ in batches]
    assert len(keys) == len(set(keys)), batches
    assert batches == _batches(warehouses.undisturbed)
    assert all(read == loaded + rejected for *_, read, loaded, rejected in batches)


@pytest.mark.slow
def test_a_second_run_of_the_same_date_changes_no_output(warehouses: Warehouses, tmp_path: Path) -> None:
    """Idempotency: the whole build again on the built warehouse (incremental models take their merge
    path now, loads replace their source) gives the same contract tables."""
    copy = tmp_path / "again.duckdb"
    copy.write_bytes(warehouses.undisturbed.read_bytes())
    first = contract_hashes(copy)
    env = _env(tmp_path, copy, "again")
    _load(env, warehouses.landing)
    _build(env)
    _gate(copy)
    assert contract_hashes(copy) == first


# --- the warehouse missing, read-only or locked -------------------------------------------------------

# What the DAG's load task does on DuckDB (include.orchestration.tasks.load), without importing Airflow per process.
LOAD = ("from pathlib import Path; from include.contracts import load_sources; "
        "from include.loading.duckdb_loader import load_source; "
        "from include.warehouse.duckdb_file import connect\nwith connect() as con: "
        "load_source(con, load_sources()['products'], Path({landing!r}), 'run-1')")
GATE = "from include.orchestration import tasks; tasks.gate('run-1')"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.synthetic import generate

    out = tmp_path_factory.mktemp("tiny") / "landing"
    generate(out, num_customers=10, seed=3)
    return out


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[-1] if lines else ""


def test_a_missing_warehouse_fails_the_gate_with_what_to_do_and_creates_nothing(tmp_path: Path) -> None:
    warehouse = tmp_path / "gone" / "w.duckdb"
    proc = python(airflow_env(tmp_path, warehouse), GATE)
    assert proc.returncode != 0
    assert _last_line(proc) == (
        f"include.warehouse.duckdb_file.WarehouseUnavailable: warehouse {warehouse} does not exist: run the "
        "customer_360 DAG first, or set C360_DUCKDB_PATH to the warehouse file the DAG writes; then clear this task "
        "to retry")
    assert not warehouse.parent.exists()


def test_a_read_only_warehouse_fails_the_load_naming_the_fix_and_stays_unchanged(tmp_path: Path,
                                                                                 tiny_landing: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    env = airflow_env(tmp_path, warehouse)
    assert python(env, LOAD.format(landing=str(tiny_landing))).returncode == 0
    before = _digest(warehouse)
    warehouse.chmod(0o444)
    try:
        proc = python(env, LOAD.format(landing=str(tiny_landing)), prefix=no_root_override())
    finally:
        warehouse.chmod(0o644)
    assert proc.returncode != 0
    line = _last_line(proc)
    assert line.startswith(f"include.warehouse.duckdb_file.WarehouseUnavailable: warehouse {warehouse} is not "
                           "writable by this process"), line
    assert "give the Airflow worker's user write access" in line and "clear this task to retry" in line
    assert _digest(warehouse) == before
    assert not Path(f"{warehouse}.wal").exists()


def test_a_read_only_warehouse_folder_fails_with_the_folder_named(tmp_path: Path, tiny_landing: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        proc = python(airflow_env(tmp_path, folder / "sub" / "w.duckdb"), LOAD.format(landing=str(tiny_landing)),
                      prefix=no_root_override())
    finally:
        folder.chmod(0o755)
    assert proc.returncode != 0
    assert f"warehouse folder {folder / 'sub'} is read-only (Permission denied)" in _last_line(proc)
    assert not (folder / "sub").exists()


def test_a_locked_warehouse_fails_the_load_naming_the_holder_and_loses_nothing(tmp_path: Path,
                                                                              tiny_landing: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    env = airflow_env(tmp_path, warehouse)
    assert python(env, LOAD.format(landing=str(tiny_landing))).returncode == 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute("select count(*) from raw.products").fetchone()[0]
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); "
                               "print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = python(env, LOAD.format(landing=str(tiny_landing)))
        reader = python(env, "from include.warehouse.duckdb_file import connect\nwith connect(read_only=True): pass")
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode != 0 and reader.returncode != 0
    for line in (_last_line(proc), _last_line(reader)):
        assert f"warehouse {warehouse} is locked by another process" in line, line
        assert f"PID {holder.pid}" in line and "clear this task to retry" in line
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.products").fetchone()[0] == loaded > 0
        assert con.execute("select count(*) from audit.load_batches").fetchone()[0] == 1


def test_the_warehouse_path_is_never_created_by_a_reader(tmp_path: Path) -> None:
    from include.warehouse.duckdb_file import WarehouseUnavailable, connect

    for kwargs in ({"read_only": True}, {"must_exist": True}):
        with pytest.raises(WarehouseUnavailable, match="does not exist: run the customer_360 DAG first"), \
                connect(tmp_path / "absent.duckdb", **kwargs):
            pass
    assert not (tmp_path / "absent.duckdb").exists()
    assert os.listdir(tmp_path) == []


# --- a transient dbt failure is retried by its layer; a failing data test is not -----------------------

FLAKY_MODEL = "select * from read_csv('{marker}')\n"
FAILING_TEST_MODELS = """
models:
  - name: zz_failing_test
    columns:
      - name: id
        data_tests:
          - accepted_values:
              values: [2]
"""
# After an invocation with an erroring model (the flaky model's first try), write the file the flaky
# model reads: the next try finds it. DuckDB's COPY writes the file outside any transaction.
MARK_AFTER_ERROR = ("{{% if results | selectattr('status', 'equalto', 'error') | list %}}"
                    "copy (select 1 as ok) to '{marker}'{{% else %}}select 1{{% endif %}}")


@pytest.mark.slow
def test_a_transient_model_failure_is_retried_without_an_alert_and_a_failing_test_is_not(
        warehouses: Warehouses, tmp_path: Path) -> None:
    """The marts layer, with two injected models, on a built warehouse; every other task is marked success.
    Works in both of Cosmos' execution modes (include/pipeline.yml dbt_execution_mode)."""
    import shutil

    import yaml

    from tests.conftest import fresh_airflow_home, run_dag

    marker = tmp_path / "flaky-second-try.csv"
    project = tmp_path / "dbt"
    shutil.copytree(PROJECT_ROOT / "dbt", project, ignore=shutil.ignore_patterns("target", "logs"))
    marts = project / "models" / "marts"
    (marts / "zz_flaky.sql").write_text(FLAKY_MODEL.format(marker=marker))
    (marts / "zz_failing_test.sql").write_text("select 1 as id\n")
    (marts / "zz_failing_test.yml").write_text(FAILING_TEST_MODELS)
    dbt_project = yaml.safe_load((project / "dbt_project.yml").read_text())
    dbt_project["on-run-end"] = [*dbt_project["on-run-end"], MARK_AFTER_ERROR.format(marker=marker)]
    (project / "dbt_project.yml").write_text(yaml.safe_dump(dbt_project, sort_keys=False))
    parsed = subprocess.run([str(Path(sys.executable).parent / "dbt"), "parse", "--profiles-dir", ".", "--quiet"],
                            cwd=project, capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    config = yaml.safe_load((PROJECT_ROOT / "include" / "pipeline.yml").read_text())
    config["layers"]["marts"]["retry_delay_seconds"] = 1
    (tmp_path / "pipeline.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(warehouses.undisturbed.read_bytes())
    env = airflow_env(fresh_airflow_home(tmp_path / "airflow"), warehouse, C360_DBT_PROJECT_DIR=str(project),
                      C360_PIPELINE_CONFIG=str(tmp_path / "pipeline.yml"), AIRFLOW__COSMOS__ENABLE_TELEMETRY="False")

    result = run_dag(env, {"source_dir": str(warehouses.landing)},
                     extra_args=("--mark-success-pattern", r"^(?!marts\.).*"))
    injected = {t: s for t, s in result.task_states.items() if ".zz_" in t}
    assert injected == {"marts.zz_flaky_run": "success", "marts.zz_failing_test.run": "success",
                        "marts.zz_failing_test.test": "failed"}, (injected, result.output[-5000:])
    assert marker.exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        flaky = con.execute("select status from audit.dbt_results where node_name = 'zz_flaky' and airflow_run_id = ? "
                            "order by recorded_at", [result.run_id]).fetchall()
        tests = con.execute("select status from audit.dbt_results where resource_type = 'test' and "
                            "node_name like '%zz_failing_test%' and airflow_run_id = ?", [result.run_id]).fetchall()
        alerts = con.execute("select kind, task_id, try_number from audit.alerts where run_id = ? order by created_at",
                             [result.run_id]).fetchall()
    assert flaky[0] == ("error",) and flaky[-1] == ("success",), flaky  # the layer's retry recovered
    assert set(tests) == {("fail",)}, tests
    # One alert, for the test on its only try; none for the model whose retry succeeded.
    assert alerts[0] == ("task_failed", "marts.zz_failing_test.test", 1), alerts
    assert [a for a in alerts if a[0] == "task_failed"] == alerts[:1], alerts


# --- two runs at once -----------------------------------------------------------------------------------


def _task_state(home: Path, task_id: str, before: set[str] = frozenset()) -> list[str]:
    """The task's states in the runs not in `before` (the copied metadata DB holds earlier runs)."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db", timeout=30) as db:
        return [s for r, s in db.execute("select run_id, state from task_instance where dag_id = 'customer_360' "
                                         "and task_id = ?", [task_id]).fetchall() if r not in before]


def _run_ids(home: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(home / "airflow.db", timeout=30) as db:
        return {r for (r,) in db.execute("select run_id from dag_run").fetchall()}


@pytest.mark.slow
def test_a_run_started_while_another_runs_is_refused_with_a_message(tmp_path: Path) -> None:
    """`airflow dags test` ignores max_active_runs, as a backfill does beside a scheduled run: the second
    run's first task refuses to start, naming the fix, and the first run ends well with no lock error."""
    import time

    from include.synthetic import generate
    from tests.conftest import BIN, fresh_airflow_home, run_dag

    landing = tmp_path / "landing"
    generate(landing, num_customers=200, seed=7)
    home = fresh_airflow_home(tmp_path / "airflow")
    env = airflow_env(home, tmp_path / "w.duckdb", AIRFLOW__COSMOS__ENABLE_TELEMETRY="False")
    before = _run_ids(home)
    # The first run loads and builds staging, stitching and marts (a minute or more); the rest is marked
    # success.
    keep = r"^(?!(prepare_sources|load_sources\..*|staging\..*|stitching\..*|marts\..*)$).*"
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen([str(BIN / "airflow"), "dags", "test", "customer_360", "-c",
                              json.dumps({"source_dir": str(landing)}), "--mark-success-pattern", keep],
                             env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while _task_state(home, "prepare_sources", before) != ["success"]:
            assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()[-5000:]
            time.sleep(1)
        second = run_dag(env, {"source_dir": str(landing)})
        first.wait(timeout=900)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    first_output = (tmp_path / "first.log").read_text()
    assert second.task_states["prepare_sources"] == "failed", second.task_states
    assert "1 other customer_360 run(s) are running; runs share one warehouse and must run one after another" in (
        second.output)
    assert "airflow backfill create --max-active-runs 1" in second.output
    assert not any(s == "success" for t, s in second.task_states.items() if t != "prepare_sources")
    assert first.returncode == 0, first_output[-5000:]
    # The first run's tasks ran; the second's never started.
    assert sorted(_task_state(home, "load_sources.order_items", before)) == ["success", "upstream_failed"]
    # DuckDB's own lock error reaches nobody bare: where it shows (the second run's alert, written while
    # the first run held the warehouse, waits in the spool), it is inside the message that says what to do.
    for output in (first_output, second.output):
        bare = [line for line in output.splitlines() if "Could not set lock" in line
                and "is locked by another process" not in line]
        assert not bare, bare


# --- a backfill: one date after another, each with its own reference date ------------------------------

BACKFILL_DATES = ("2026-10-01", "2026-10-02", "2026-10-03")


@pytest.mark.slow
def test_backfilled_dates_each_get_their_own_reference_date(warehouses: Warehouses, tmp_path: Path) -> None:
    """`airflow backfill create` needs a running scheduler (tests/e2e/test_scheduler_e2e.py takes ~11 min for
    one run), so the three dates run as `airflow dags test <date>`, one after another, as a backfill
    with --max-active-runs 1 does. Only the marts layer, which computes recency, runs (the warehouse is
    already built); the rest is marked success."""
    from tests.conftest import fresh_airflow_home, run_dag

    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(warehouses.undisturbed.read_bytes())
    env = airflow_env(fresh_airflow_home(tmp_path / "airflow"), warehouse, AIRFLOW__COSMOS__ENABLE_TELEMETRY="False")
    keep = r"^(?!(prepare_sources|marts\..*)$).*"
    for date in BACKFILL_DATES:
        result = run_dag(env, {"source_dir": str(warehouses.landing)},
                         logical_date=date, extra_args=("--mark-success-pattern", keep))
        assert result.state == "success", result.output[-5000:]
        with duckdb.connect(str(warehouse), read_only=True) as con:
            days = con.execute(
                "select count(*), count(distinct last_order_date + days_since_last_order::integer) filter "
                "(where last_order_date is not null), min(last_order_date + days_since_last_order::integer) "
                "from marts.with_user_id").fetchone()
        assert days[0] > 0 and days[1] == 1 and str(days[2]) == date, (date, days)
