"""Running the dbt project through dbt-snowflake on the Snowflake emulator, as a deployment does: a
process whose Airflow connection is the emulator (snowflake_deployment), the profile Cosmos writes
from it (snowflake_profile), `dbt build` as a child process with a hard timeout (run_dbt), and a load
plus builds on a database of its own (build_on_snowflake). Shared by the tests that build on the
emulator (tests/dbt/test_snowflake_dbt.py and others).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from include.warehouse.emulator import Emulator
from tests.conftest import PROJECT_ROOT
from tests.support.snowflake_emulator import CONN_ID

STEP_TIMEOUT = 600
REFERENCE_DATE = "2026-01-01"
DATABASE = "c360_dbt_build"
INCREMENTAL_MODELS = ("fct_identify_events", "fct_order_items")
DBT = Path(sys.executable).parent / "dbt"


@contextmanager
def snowflake_deployment(emulator: Emulator, database: str, work: Path) -> Iterator[None]:
    """This process as a deployment with C360_TARGET=snowflake whose connection is the emulator,
    on a database of its own."""
    connection = emulator.connection()
    connection["extra"]["database"] = database
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
        mp.setenv("C360_TARGET", "snowflake")
        mp.delenv("C360_SNOWFLAKE_CONN_ID", raising=False)
        # Anything that writes next to the DuckDB warehouse (e.g. the alert spool) stays out of the project.
        mp.setenv("C360_DUCKDB_PATH", str(work / "unused.duckdb"))
        yield


def dbt_project_copy(work: Path) -> Path:
    """An unmodified copy of the dbt project (others may edit dbt/ while the tests run)."""
    project = work / "dbt"
    if not project.exists():
        shutil.copytree(PROJECT_ROOT / "dbt", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return project


def snowflake_profile(work: Path) -> tuple[Path, dict[str, str]]:
    """The profile exactly as Cosmos writes it for a task, from the Airflow connection, and the
    environment of the dbt process (the mapping's secrets and the DAG's dbt_env_vars)."""
    from include.orchestration.dbt_profiles import SnowflakeConnectionProfileMapping, dbt_env_vars

    mapping = SnowflakeConnectionProfileMapping(CONN_ID, {"threads": 1})
    profiles = work / "profiles"
    profiles.mkdir(exist_ok=True)
    (profiles / "profiles.yml").write_text(mapping.get_profile_file_contents("c360", "prod"))
    return profiles, {**mapping.env_vars, **dbt_env_vars("snowflake")}


def run_dbt(project: Path, profiles_dir: Path, target: str, env: dict[str, str], run_id: str,
            database: str = DATABASE) -> dict:
    """`dbt build` in a child process; returns every node's result and which models took the
    incremental path (only there does delete+insert delete from the existing table)."""
    logs, target_path = project.parent / f"logs-{run_id}", project.parent / f"target-{target}"
    proc = subprocess.run(
        [str(DBT), "build", "--project-dir", str(project), "--profiles-dir", str(profiles_dir),
         "--target", target, "--target-path", str(target_path), "--log-path", str(logs),
         "--vars", json.dumps({"reference_date": REFERENCE_DATE, "airflow_run_id": run_id})],
        cwd=project.parent, capture_output=True, text=True, timeout=STEP_TIMEOUT,
        env={**os.environ, **env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"},
    )
    results_file = target_path / "run_results.json"
    assert results_file.exists(), f"dbt {run_id} wrote no results:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(results_file.read_text())["results"]
    results_file.unlink()  # the next build writes its own
    log_text = (logs / "dbt.log").read_text().lower()
    return {
        "returncode": proc.returncode,
        "output": proc.stdout[-6000:],
        "results": [{"node": r["unique_id"], "status": r["status"], "message": (r.get("message") or "")[:500]}
                    for r in results],
        "incremental": sorted(m for m in INCREMENTAL_MODELS
                              if re.search(rf"delete from {database}\.marts\.{m}\s", log_text)),
    }


def build_on_snowflake(emulator: Emulator, work: Path, landing: Path, database: str,
                       builds: tuple[str, ...]) -> dict[str, object]:
    """Load the landing with the Snowflake loader (run id load-1), then `dbt build` once per entry of
    builds (its run id), all on `database` of the emulator."""
    from include.contracts import load_sources
    from include.loading.snowflake_loader import load_source_snowflake

    out: dict[str, object] = {}
    with snowflake_deployment(emulator, database, work):
        out["load"] = [r.__dict__ for s in load_sources().values()
                       for r in load_source_snowflake(s, landing, "load-1")]
        project = dbt_project_copy(work)
        profiles, env = snowflake_profile(work)
        for build in builds:
            out[build] = run_dbt(project, profiles, "prod", env, build, database)
    return out


def failures(build: dict) -> list[dict]:
    return [r for r in build["results"] if r["status"] not in ("success", "pass", "warn")]
