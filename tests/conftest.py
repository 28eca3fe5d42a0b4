"""Shared fixtures: a private Airflow home, generated landing data, and a way to run the DAG for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import repository_bounds

# The Snowflake emulator's fixtures, registered here so one emulator serves the whole session.
from tests.support.snowflake_emulator import (  # noqa: F401
    either_warehouse,
    snowflake_cursor,
    snowflake_emulator,
    snowflake_target,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass
class DagRunResult:
    returncode: int
    run_id: str
    state: str
    task_states: dict[str, str]
    output: str


def fresh_airflow_home(home: Path) -> Path:
    """A copy of the project's initialised Airflow home (make setup migrates it), so test runs do not
    mix with the user's runs and no test pays for a fresh migration."""
    source = PROJECT_ROOT / ".airflow"
    if not (source / ".initialised").exists():
        pytest.fail("the Airflow metadata DB is not initialised: run the tests with `make test`")
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "airflow.db", home / "airflow.db")
    return home


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_airflow_home(tmp_path_factory.mktemp("airflow_home"))


def airflow_env(airflow_home: Path, duckdb_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "AIRFLOW_HOME": str(airflow_home),
        # Cosmos' partial-parse cache per Airflow home, not one /tmp/cosmos for every test and user.
        "AIRFLOW__COSMOS__CACHE_DIR": str(airflow_home / "cosmos_cache"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "C360_DUCKDB_PATH": str(duckdb_path),
        "C360_SOURCE_DIR": "",
    }
    env.update(extra)
    return env


def run_airflow(env: dict[str, str], *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout)


def _json_tail(text: str) -> list | dict:
    """The JSON document of an `airflow ... -o json` call, past any log lines before it."""
    return json.loads(next(line for line in text.splitlines() if line.startswith(("[", "{"))))


def run_dag(env: dict[str, str], conf: dict, timeout: int = 1200, logical_date: str | None = None,
            extra_args: tuple[str, ...] = ()) -> DagRunResult:
    """Run customer_360 with `airflow dags test` (in-process executor, SQLite metadata DB) and read
    back the run's and every task's final state from the metadata DB. extra_args: more `dags test`
    options, e.g. --mark-success-pattern."""
    date = [logical_date] if logical_date else []
    proc = run_airflow(env, "dags", "test", "customer_360", *date, "-c", json.dumps(conf), *extra_args,
                       timeout=timeout)
    runs = _json_tail(run_airflow(env, "dags", "list-runs", "customer_360", "-o", "json").stdout)
    # `dags test` logs the run it made; another process may have made runs in the same home meanwhile.
    made = re.findall(r"DagRun Finished: dag_id=customer_360, .*?run_id=([^,\s]+)", proc.stdout + proc.stderr)
    run = next((r for r in runs if made and r["run_id"] == made[-1]), None) or max(
        runs, key=lambda r: r.get("end_date") or r.get("start_date") or "")
    states = _json_tail(
        run_airflow(env, "tasks", "states-for-dag-run", "customer_360", run["run_id"], "-o", "json").stdout
    )
    return DagRunResult(
        returncode=proc.returncode,
        run_id=run["run_id"],
        state=run["state"],
        task_states={s["task_id"]: s["state"] for s in states},
        output=proc.stdout + proc.stderr,
    )


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.synthetic import generate

    out = tmp_path_factory.mktemp("landing") / "small"
    generate(out, num_customers=200, seed=7)
    return out


# One logical date for the runs that are compared, so recency features agree.
REFERENCE_LOGICAL_DATE = "2026-11-01"


@dataclass
class WarehouseRun:
    result: DagRunResult
    warehouse: Path  # the DuckDB file (a DuckDB run) or the emulator's folder (a Snowflake run)


@pytest.fixture(scope="session")
def duckdb_run(airflow_home: Path, small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> WarehouseRun:
    """customer_360 end to end on DuckDB over small_landing, once per session: the reference the other
    targets and modes are compared with."""
    warehouse = tmp_path_factory.mktemp("duckdb_run") / "warehouse.duckdb"
    result = run_dag(airflow_env(airflow_home, warehouse), {"source_dir": str(small_landing)},
                     logical_date=REFERENCE_LOGICAL_DATE)
    return WarehouseRun(result, warehouse)


@pytest.fixture(autouse=True)
def _reads_only_its_own_files(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test fails if it, or the project code it runs in this process, opens a file beside the
    repository; only the contract comparison may look at the shared contracts."""
    if request.path.name == "test_contracts.py" or not repository_bounds.watch():
        yield
        return
    before = len(repository_bounds.outside_reads)
    yield
    read = repository_bounds.outside_reads[before:]
    assert not read, f"read outside the repository (a user's clone has no such files): {sorted(set(read))}"


# What dbt's stitching.int_profile_sizes holds, for fixtures that write a stitcher table by hand.
PROFILE_SIZES_SQL = """
    select user_main_id, count(*) as id_count,
           count(case when other_id_type = 'user_id' then 1 end) as user_id_count,
           count(case when other_id_type = 'anonymous_id' then 1 end) as anonymous_id_count
    from stitching.user_id_stitcher group by user_main_id
"""
