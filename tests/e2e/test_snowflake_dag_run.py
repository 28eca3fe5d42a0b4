"""customer_360 on the Snowflake target, end to end on the local Snowflake emulator: the same DAG code
as production (the Snowflake loader's PUT and COPY, the four Cosmos layers through dbt-snowflake, the
gate and its alerts), compared with the DuckDB run of the same landing data. The run is also the
credential-leak probe: every secret the deployment knows is a sentinel, and none may surface."""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from include.warehouse.emulator import Emulator
from tests.conftest import (
    REFERENCE_LOGICAL_DATE,
    DagRunResult,
    WarehouseRun,
    airflow_env,
    fresh_airflow_home,
    run_airflow,
    run_dag,
)

pytestmark = pytest.mark.slow

SENTINEL = "c360-sentinel-Hk4vQ9mZ2xLw7p"  # pragma: allowlist secret
STITCHER = "select other_id, other_id_type, user_main_id from stitching.user_id_stitcher"
FEATURES = "select * from marts.with_user_id"


@dataclass
class SnowflakeRun:
    result: DagRunResult
    home: Path
    duckdb_path: Path
    tables: dict[str, list[dict]]
    export: subprocess.CompletedProcess
    export_dir: Path
    preview: subprocess.CompletedProcess


def _normal(value: object) -> object:
    """One spelling per value across the two warehouses (Snowflake NUMBER vs DuckDB DOUBLE, dates)."""
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(cursor, sql: str) -> list[dict]:
    cursor.execute(sql)
    names = [d[0].lower() for d in cursor.description]
    return [{n: _normal(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _read(emulator: Emulator, queries: dict[str, str]) -> dict[str, list[dict]]:
    import snowflake.connector

    conn = emulator.connection()
    with snowflake.connector.connect(
        user=conn["login"], password=conn["password"], database=emulator.database, schema="public",
        **{k: v for k, v in conn["extra"].items() if k not in ("database", "warehouse", "role")},
    ) as con, con.cursor() as cur:
        return {name: _rows(cur, sql) for name, sql in queries.items()}


@pytest.fixture(scope="module")
def snowflake_run(small_landing: Path, snowflake_emulator: Emulator,
                  tmp_path_factory: pytest.TempPathFactory) -> SnowflakeRun:
    work = tmp_path_factory.mktemp("snowflake_run")
    emulator = replace(snowflake_emulator, database="c360_e2e")  # a database of the run's own
    connection = emulator.connection()
    connection["password"] = SENTINEL
    home = fresh_airflow_home(work / "airflow")
    env = airflow_env(
        home, work / "never-written.duckdb",
        C360_TARGET="snowflake",
        C360_SNOWFLAKE_THREADS="1",
        AIRFLOW_CONN_SNOWFLAKE_DEFAULT=json.dumps(connection),
        AIRFLOW_CONN_C360_ALERTS_SMTP=json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": 9, "login": "alerts", "password": SENTINEL,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "a@c360.test",
                      "to": "o@c360.test", "timeout": 2, "retry_limit": 0}}),
        AIRFLOW_CONN_C360_ALERTS_SLACK=json.dumps({
            "conn_type": "slackwebhook", "password": f"https://127.0.0.1:9/services/{SENTINEL}"}),
        AIRFLOW__API_AUTH__JWT_SECRET=SENTINEL,
        C360_EXPORT_DIR=str(work / "exports"),
    )
    result = run_dag(env, {"source_dir": str(small_landing), "target": "snowflake"},
                     logical_date=REFERENCE_LOGICAL_DATE, timeout=2400)
    tables = _read(emulator, {
        "stitcher": STITCHER, "features": FEATURES,
        "load_batches": "select * from audit.load_batches",
        "gate": f"select check_name, status from audit.dq_gate_results where run_id = '{result.run_id}'",
        "dbt_results": "select * from audit.dbt_results",
        "builds": "select run_id, colour, published_at from audit.builds",
        "published": "select table_schema, table_name from information_schema.views",
    })
    # The hand-off DAG on the same deployment, triggered by hand: it exports the run published now.
    export = run_airflow(env, "dags", "test", "customer_features_export", timeout=600)
    # A rule preview on the same deployment: dbt through the Snowflake profile, into stitching__preview.
    preview = run_airflow(env, "dags", "test", "stitching_rule_preview", "-c",
                          json.dumps({"stitch_max_user_ids_per_anonymous_id": 1}), timeout=1200)
    tables |= _read(emulator, {
        "stitcher_after_preview": STITCHER,
        "preview": "select answer_json from audit.stitching_investigations where kind = 'preview'",
    })
    return SnowflakeRun(result, home, work / "never-written.duckdb", tables, export, work / "exports", preview)


def _duckdb_rows(run: WarehouseRun, sql: str) -> list[dict]:
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        return _rows(con.cursor(), sql)


def _key(row: dict) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def test_the_whole_dag_succeeds_on_the_snowflake_target(snowflake_run: SnowflakeRun) -> None:
    result = snowflake_run.result
    assert result.state == "success", result.output[-8000:]
    failed = {t: s for t, s in result.task_states.items() if s != "success"}
    assert not failed, failed
    gate = dict((r["check_name"], r["status"]) for r in snowflake_run.tables["gate"])
    assert gate and "fail" not in gate.values(), gate
    assert {r["resource_type"] for r in snowflake_run.tables["dbt_results"]} >= {"model", "test"}
    assert not snowflake_run.duckdb_path.exists(), "a Snowflake-target run wrote the DuckDB warehouse"


def test_the_passing_build_is_published_and_handed_off(snowflake_run: SnowflakeRun) -> None:
    run_id = snowflake_run.result.run_id
    assert [(b["run_id"], b["colour"]) for b in snowflake_run.tables["builds"]] == [(run_id, "blue")]
    assert snowflake_run.tables["builds"][0]["published_at"] is not None
    views = {f"{v['table_schema']}.{v['table_name']}".lower() for v in snowflake_run.tables["published"]}
    assert {"stitching.user_id_stitcher", "stitching.excluded_ids", "marts.with_user_id"} <= views
    assert snowflake_run.export.returncode == 0, snowflake_run.export.stdout[-4000:] + snowflake_run.export.stderr
    (snapshot,) = snowflake_run.export_dir.glob("customer_features/dt=*/*.parquet")
    assert snapshot.stem == re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    exported = pq.read_table(snapshot).to_pylist()
    assert sorted(r["user_id"] for r in exported) == sorted(r["user_id"] for r in snowflake_run.tables["features"])


def test_a_rule_preview_builds_out_of_sight_and_reports(snowflake_run: SnowflakeRun) -> None:
    preview = snowflake_run.preview
    assert preview.returncode == 0, (preview.stdout + preview.stderr)[-5000:]
    (row,) = snowflake_run.tables["preview"]
    answer = json.loads(row["answer_json"])
    assert answer["newly_excluded"] and {r["reason"] for r in answer["newly_excluded"]} == {"super_connector"}
    assert answer["split"] >= 1 and answer["feature_rows_changed"] > 0
    # Nothing published changed.
    assert sorted(map(_key, snowflake_run.tables["stitcher_after_preview"])) == sorted(
        map(_key, snowflake_run.tables["stitcher"]))


def test_every_loaded_file_reconciles(snowflake_run: SnowflakeRun) -> None:
    batches = snowflake_run.tables["load_batches"]
    assert {b["source"] for b in batches} == {"orders", "order_items", "identifies_js", "identifies_ruby",
                                               "products", "designs"}
    assert all(b["rows_read"] == b["rows_loaded"] + b["rows_rejected"] and b["rows_read"] > 0 for b in batches)


def test_the_identity_graph_equals_the_duckdb_runs(snowflake_run: SnowflakeRun, duckdb_run: WarehouseRun) -> None:
    snowflake = sorted(map(_key, snowflake_run.tables["stitcher"]))
    reference = sorted(map(_key, _duckdb_rows(duckdb_run, STITCHER)))
    assert len(snowflake) > 100 and snowflake == reference


def test_the_feature_view_equals_the_duckdb_runs(snowflake_run: SnowflakeRun, duckdb_run: WarehouseRun) -> None:
    snowflake = {r["user_id"]: r for r in snowflake_run.tables["features"]}
    reference = {r["user_id"]: r for r in _duckdb_rows(duckdb_run, FEATURES)}
    assert snowflake.keys() == reference.keys() and len(reference) > 50
    differing = {u: {c: (v, snowflake[u].get(c)) for c, v in row.items() if not _same(v, snowflake[u].get(c))}
                 for u, row in reference.items()}
    differing = {u: cols for u, cols in differing.items() if cols}
    assert not differing, dict(list(differing.items())[:5])


def _same(a: object, b: object) -> bool:
    """Equal, numbers to 1e-6: Snowflake divides NUMBERs to a scale of 6 and rounds (177.8396875 is
    177.839688 there), DuckDB divides in double precision."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def test_a_snowflake_run_logs_no_configured_secret(snowflake_run: SnowflakeRun) -> None:
    """The Snowflake connection's password, dbt's profile, the SMTP and Slack connections and the API's
    JWT secret are all the sentinel: no task log, metadata row, process output or audit row holds it."""
    home, result = snowflake_run.home, snowflake_run.result
    leaks = [str(p) for p in home.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()]
    recorded = json.dumps(snowflake_run.tables, default=str)
    leaks += [line[:300] for text in (result.output, recorded) for line in text.splitlines() if SENTINEL in line]
    assert not leaks, leaks
    # The probe is not blind: dbt and the loader logged in with the sentinel and wrote through it.
    assert snowflake_run.tables["dbt_results"] and snowflake_run.tables["load_batches"]
