"""The whole dbt project through dbt-snowflake on fakesnow, twice (the second run takes the incremental
path), with the profile Cosmos builds from an Airflow connection; the identity graph must partition
the ids exactly as the DuckDB build does on the same landing data.

Every step runs in a child process with a hard timeout: the Snowflake connector retries an HTTP 500
without limit, so a fakesnow failure could otherwise hang the suite. fakesnow keeps its databases in
a directory (db_path), so the steps share state across processes.

fakesnow workarounds (fakesnow, not our SQL, is at fault; each lives only in the test's copy of the
project, see FAKESNOW_OVERRIDES):
- dbt-snowflake's incremental delete+insert creates `temporary table <db>.<schema>.<name>__dbt_tmp`;
  DuckDB, under fakesnow, refuses a TEMPORARY table with a catalog ("TEMPORARY table names can
  *only* use the temp catalog"). The copy creates that scratch table as a regular table; dbt drops it
  after the merge either way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

STEP_TIMEOUT = 600
REFERENCE_DATE = "2026-01-01"
CONNECTION = {
    "conn_type": "snowflake", "login": "c360_loader", "password": "fakesnow-ignores-it", "schema": "public",
    "extra": {"account": "fakesnow", "database": "c360", "warehouse": "c360_wh", "role": "c360_role"},
}

FAKESNOW_OVERRIDES = """
{#- Test-only (fakesnow): DuckDB refuses a TEMPORARY table with a catalog in its name, which is how
    dbt-snowflake names an incremental model's scratch table. -#}
{% macro snowflake__create_table_temporary_sql(relation, compiled_code) -%}
create or replace table {{ relation }} as (
    {{ compiled_code }}
    );
{%- endmacro %}
"""


def _dbt_project(work: Path, target: str) -> Path:
    project = work / f"dbt-{target}"
    if not project.exists():
        shutil.copytree(PROJECT_ROOT / "dbt", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
        if target == "snowflake":
            (project / "macros" / "zz_fakesnow_overrides.sql").write_text(FAKESNOW_OVERRIDES)
    return project


def _dbt(project: Path, profiles_dir: Path, target: str, run_id: str) -> dict:
    """dbt build; returns every node's result and which models took the incremental path (only there
    does delete+insert delete from the existing table)."""
    from dbt.cli.main import dbtRunner

    logs = project.parent / f"logs-{run_id}"
    result = dbtRunner().invoke([
        "build", "--project-dir", str(project), "--profiles-dir", str(profiles_dir), "--target", target,
        "--log-path", str(logs), "--vars", json.dumps({"reference_date": REFERENCE_DATE, "airflow_run_id": run_id}),
    ])
    log_text = (logs / "dbt.log").read_text()
    return {
        "results": [{"node": r.node.unique_id, "status": str(r.status), "message": (r.message or "")[:500]}
                    for r in (result.result or [])],
        "incremental": sorted(m for m in ("fct_order_items", "fct_identify_events")
                              if f"delete from c360.marts.{m}" in log_text.lower()),
    }


def _snowflake_step(step: str, work: Path, landing: Path) -> object:
    import fakesnow

    os.environ["AIRFLOW_CONN_SNOWFLAKE_DEFAULT"] = json.dumps(CONNECTION)
    with fakesnow.patch(db_path=str(work / "fakesnow")):
        import snowflake.connector

        if step == "load":
            from include.contracts import load_sources
            from include.loading import snowflake_loader as sl
            from tests.test_snowflake_loader import InsertLander

            conn = snowflake.connector.connect(database="c360", schema="public")
            cur = conn.cursor()
            cur.execute("create database if not exists c360")
            counts = [r.__dict__ for s in load_sources().values()
                      for r in sl.load_with_cursor(cur, s, landing, "load-1", InsertLander())]
            conn.close()
            return counts
        if step.startswith("build"):
            from include.orchestration.dbt_profiles import SnowflakeConnectionProfileMapping

            # The profile exactly as Cosmos writes it for a task: from the Airflow connection.
            mapping = SnowflakeConnectionProfileMapping("snowflake_default", {"threads": 1})
            profiles = work / "profiles"
            profiles.mkdir(exist_ok=True)
            (profiles / "profiles.yml").write_text(mapping.get_profile_file_contents("c360", "prod"))
            os.environ.update(mapping.env_vars)
            return _dbt(_dbt_project(work, "snowflake"), profiles, "prod", step)
        conn = snowflake.connector.connect(database="c360", schema="public")
        cur = conn.cursor()
        cur.execute("select user_main_id, other_id, other_id_type from stitching.user_id_stitcher")
        rows = cur.fetchall()
        cur.execute("select table_schema, table_name from information_schema.tables "
                    "where table_schema in ('STAGING', 'STITCHING', 'MARTS', 'ANALYTICS', 'AUDIT')")
        tables = sorted(f"{s}.{t}".lower() for s, t in cur.fetchall())
        conn.close()
        return {"stitcher": rows, "tables": tables}


def _duckdb_step(work: Path, landing: Path) -> object:
    import duckdb

    from include.contracts import load_sources
    from include.loading.duckdb_loader import load_source

    warehouse = work / "duckdb.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for source in load_sources().values():
            load_source(con, source, landing, "load-1")
    os.environ["C360_DUCKDB_PATH"] = str(warehouse)
    build = _dbt(_dbt_project(work, "duckdb"), PROJECT_ROOT / "dbt", "dev", "duckdb-1")
    # dbt-duckdb keeps its read-write connection open in this process: open the file the same way.
    with duckdb.connect(str(warehouse)) as con:
        rows = con.execute("select user_main_id, other_id, other_id_type from stitching.user_id_stitcher").fetchall()
    return {"results": build["results"], "stitcher": rows}


def _run_step(step: str, work: Path, landing: Path) -> object:
    """Run one step in a child process with a hard timeout; returns what the step returned."""
    out = work / f"{step}.json"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.test_snowflake_dbt", step, str(work), str(landing), str(out)],
        cwd=work, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT,
    )
    assert proc.returncode == 0, f"step {step} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text())


def _partition(rows: list[list[str]]) -> set[frozenset[tuple[str, str]]]:
    profiles: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for main_id, other_id, other_type in rows:
        profiles[main_id].add((other_id, other_type))
    return {frozenset(ids) for ids in profiles.values()}


def _failures(results: list[dict]) -> list[dict]:
    return [r for r in results if r["status"] not in ("success", "pass", "warn")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from include.synthetic import generate

    work = tmp_path_factory.mktemp("snowflake_dbt")
    landing = work / "landing"
    generate(landing, num_customers=150, seed=11)
    (work / "fakesnow").mkdir()
    return {step: _run_step(step, work, landing) for step in ("load", "build-1", "build-2", "export", "duckdb")}


def test_the_loader_fills_every_raw_table_and_reconciles(runs) -> None:
    counts = runs["load"]
    assert {c["source"] for c in counts} == {"identifies_js", "identifies_ruby", "orders", "order_items",
                                            "products", "designs"}
    assert all(c["rows_read"] == c["rows_loaded"] + c["rows_rejected"] and c["rows_loaded"] > 0 for c in counts)


@pytest.mark.parametrize("build", ["build-1", "build-2"])
def test_every_model_seed_and_test_builds_on_snowflake(runs, build: str) -> None:
    results = runs[build]["results"]
    assert len(results) > 100, results
    assert not _failures(results), _failures(results)


def test_only_the_second_build_takes_the_incremental_path(runs) -> None:
    assert runs["build-1"]["incremental"] == []
    assert runs["build-2"]["incremental"] == ["fct_identify_events", "fct_order_items"]


def test_every_layer_and_the_audit_exist_on_snowflake(runs) -> None:
    tables = set(runs["export"]["tables"])
    for table in ("stitching.user_id_stitcher", "stitching.excluded_ids", "marts.with_user_id",
                  "marts.fct_orders", "analytics.kpi_summary", "audit.dbt_results"):
        assert table in tables, sorted(tables)


def test_the_stitcher_partitions_ids_as_the_duckdb_build_does(runs) -> None:
    assert not _failures(runs["duckdb"]["results"]), _failures(runs["duckdb"]["results"])
    snowflake, duckdb = runs["export"]["stitcher"], runs["duckdb"]["stitcher"]
    assert len(snowflake) == len(duckdb) > 0
    assert _partition(snowflake) == _partition(duckdb)
    # user_main_id is an md5 of the profile's smallest id, so the labels agree too.
    assert sorted(map(tuple, snowflake)) == sorted(map(tuple, duckdb))


if __name__ == "__main__":  # a step, in a child process (see _run_step)
    _step, _work, _landing, _out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    _result = _duckdb_step(_work, _landing) if _step == "duckdb" else _snowflake_step(_step, _work, _landing)
    _out.write_text(json.dumps(_result, default=str))
