"""customer_360 run for real: `airflow dags test` drives Cosmos, dbt and DuckDB end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from include.contracts import output_tables
from tests.conftest import (
    PROJECT_ROOT,
    REFERENCE_LOGICAL_DATE,
    WarehouseRun,
    airflow_env,
    fresh_airflow_home,
    run_airflow,
    run_dag,
)
from tests.support.fault_helpers import contract_hashes

pytestmark = pytest.mark.slow

OUTPUTS = output_tables()
LAYERS = ("staging", "stitching", "marts", "analytics")


def _group(task_id: str) -> str:
    return task_id.split(".", 1)[0]


def test_whole_dag_succeeds_and_fills_the_contract_tables(duckdb_run: WarehouseRun) -> None:
    result, warehouse = duckdb_run.result, duckdb_run.warehouse

    assert result.state == "success", result.output[-8000:]
    assert result.returncode == 0
    failed = {t: s for t, s in result.task_states.items() if s != "success"}
    assert not failed, failed
    assert {_group(t) for t in result.task_states} >= {"load_sources", "plan_build", *LAYERS, "dq_gate", "publish"}

    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, spec in OUTPUTS.items():
            columns = {r[0] for r in con.execute(f"select column_name from (describe {table})").fetchall()}
            assert set(spec["columns"]) <= columns, f"{table} lacks {set(spec['columns']) - columns}"
            # Generated data is clean; a warehouse's first publish has no earlier profiles to rename.
            if table not in ("audit.rejected_rows", "stitching.user_main_id_changes"):
                assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        # 128-bit integers (DuckDB's sum of bigints) do not survive most clients (pandas, Arrow, BI).
        wide = con.execute("select table_schema || '.' || table_name || '.' || column_name from "
                           "information_schema.columns where data_type = 'HUGEINT' and table_schema in "
                           "('stitching', 'marts', 'analytics', 'audit')").fetchall()
        assert not wide, wide
        unbalanced = con.execute(
            "select count(*) from audit.load_batches where rows_read <> rows_loaded + rows_rejected").fetchone()[0]
        assert unbalanced == 0
        gate = dict(con.execute("select check_name, status from audit.dq_gate_results where run_id = $r",
                                {"r": result.run_id}).fetchall())
        assert gate and "fail" not in gate.values(), gate
        assert gate["dbt_tests"] in ("pass", "warn")


def test_a_failing_model_stops_the_run_before_later_layers_and_the_gate(small_landing: Path, tmp_path: Path) -> None:
    project = tmp_path / "dbt"
    shutil.copytree(PROJECT_ROOT / "dbt", project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "marts" / "zz_injected_failure.sql").write_text(
        "select error('injected failure for the test') as boom\n"
    )
    subprocess.run([str(Path(sys.executable).parent / "dbt"), "parse", "--profiles-dir", ".", "--quiet"],
                   cwd=project, check=True)
    config = yaml.safe_load((PROJECT_ROOT / "include" / "pipeline.yml").read_text())
    for layer in config["layers"].values():
        layer["retry_delay_seconds"] = 1
    config_path = tmp_path / "pipeline.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    # A home of its own: a metadata DB that already holds customer_360 without the injected model
    # would mix the two DAG versions' task graphs in this run.
    home = fresh_airflow_home(tmp_path / "airflow_home")
    env = airflow_env(home, tmp_path / "warehouse.duckdb", C360_DBT_PROJECT_DIR=str(project),
                      C360_PIPELINE_CONFIG=str(config_path))

    result = run_dag(env, {"source_dir": str(small_landing)})

    assert result.state == "failed"
    # A model without tests is rendered as a single task, `<model>_run`, not a `.run`/`.test` group.
    injected = {t: s for t, s in result.task_states.items() if t.startswith("marts.zz_injected_failure")}
    assert list(injected.values()) == ["failed"], injected
    later = {t: s for t, s in result.task_states.items() if _group(t) in ("analytics", "dq_gate", "publish")}
    assert later and all(s in ("upstream_failed", None) for s in later.values()), later
    assert all(s == "success" for t, s in result.task_states.items() if _group(t) in ("load_sources", "staging"))


def test_an_invalid_param_is_refused_before_any_task_runs(airflow_home: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    env = airflow_env(airflow_home, warehouse)
    proc = run_airflow(env, "dags", "test", "customer_360", "-c", '{"num_customers": -5}')
    assert proc.returncode != 0
    assert "num_customers" in proc.stdout + proc.stderr
    assert not warehouse.exists()


def test_local_execution_mode_builds_the_same_warehouse(duckdb_run: WarehouseRun, small_landing: Path,
                                                        tmp_path: Path) -> None:
    """`local` mode (one dbt invocation per model and per model's tests, no producer) end to end: it
    succeeds and its identity graph and feature view hash the same as the watcher-mode run's."""
    config = yaml.safe_load((PROJECT_ROOT / "include" / "pipeline.yml").read_text())
    config["dbt_execution_mode"] = "local"
    config_path = tmp_path / "pipeline.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    home = fresh_airflow_home(tmp_path / "airflow_home")
    warehouse = tmp_path / "warehouse.duckdb"
    env = airflow_env(home, warehouse, C360_PIPELINE_CONFIG=str(config_path))

    result = run_dag(env, {"source_dir": str(small_landing)}, logical_date=REFERENCE_LOGICAL_DATE)

    assert result.state == "success", result.output[-8000:]
    assert not [t for t in result.task_states if "producer" in t], "local mode rendered watcher tasks"
    assert any(t.endswith(".run") for t in result.task_states)
    local, watcher = contract_hashes(warehouse), contract_hashes(duckdb_run.warehouse)
    for table in ("stitching.user_id_stitcher", "stitching.excluded_ids", "marts.with_user_id"):
        assert local[table] == watcher[table], table
