"""The whole dbt project through dbt-snowflake on the Snowflake emulator (fakesnow's HTTP server,
include/warehouse/emulator.py), exactly as shipped: the landing data loaded by the Snowflake loader
(PUT and COPY through the product's hook), then `dbt build` twice (the second run takes the
incremental path) with the profile Cosmos builds from the Airflow connection and the environment the
DAG gives every dbt invocation (dbt_env_vars). The identity graph must partition the ids exactly as
the DuckDB build does on the same landing data.

As in production, dbt_env_vars excludes unit tests on Snowflake (they run on DuckDB); the emulator
could not run them anyway: dbt-snowflake creates a unit test's scratch table as
`temporary table <db>.<schema>.<name>__dbt_tmp`, which DuckDB under fakesnow refuses ("TEMPORARY
table names can *only* use the temp catalog").

dbt runs as a child process with a hard timeout; the loader and the readers run in this process and
are bounded by the connection's client timeouts. The build has a database of its own on the emulator.
The helpers (snowflake_deployment, build_on_snowflake, run_dbt) are in tests/support/snowflake_dbt.py.

Last, the shadow full rebuild (include/publishing/shadow.py, DAG param shadow_rebuild) rebuilds the
published layers from scratch through the deployment's profile and compares them with the second,
incremental build: equal, then, after one row of the build is deleted, different in exactly that
relation, which the gate's check names. (On DuckDB: tests/e2e/test_dq_gate_runs.py.)
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import closing
from pathlib import Path

import pytest

from include.warehouse.emulator import Emulator
from tests.support.snowflake_dbt import (
    DATABASE,
    REFERENCE_DATE,
    build_on_snowflake,
    dbt_project_copy,
    failures,
    run_dbt,
    snowflake_deployment,
)

pytestmark = pytest.mark.slow


def shadow_rebuild_on_snowflake(emulator: Emulator, work: Path, database: str, run_id: str) -> dict[str, object]:
    """The shadow rebuild of the plain build on `database` (contract names, no colour), compared before
    and after one row of its stitching.user_id_stitcher is deleted; the gate's check on the latter."""
    from datetime import UTC, datetime

    from include.publishing import shadow
    from include.quality.checks import check_shadow_rebuild
    from include.quality.run_facts import Baseline, RunFacts
    from include.warehouse import connect_warehouse

    out: dict[str, object] = {}
    with snowflake_deployment(emulator, database, work):
        relations = shadow.rebuild({"C360_AIRFLOW_RUN_ID": run_id, "C360_REFERENCE_DATE": REFERENCE_DATE})
        with connect_warehouse() as db:
            out["equal"] = shadow.compare(db, None, relations)
            db.execute("delete from stitching.user_id_stitcher "
                       "where other_id = (select min(other_id) from stitching.user_id_stitcher)")
            out["corrupted"] = shadow.compare(db, None, relations)
            shadow.record(db, run_id, "none", out["corrupted"])
            out["checks"] = check_shadow_rebuild(db, RunFacts(run_id, datetime.now(UTC), "test", Baseline(), True))
            shadow.drop_shadow(db)
            out["shadow_left"] = sorted(t for t in db.tables() if t.split(".")[0].endswith("__shadow"))
    return out


def duckdb_build(work: Path, landing: Path) -> dict[str, object]:
    import duckdb

    from include.contracts import load_sources
    from include.loading.duckdb_loader import load_source

    work.mkdir(parents=True, exist_ok=True)
    warehouse = work / "duckdb.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for source in load_sources().values():
            load_source(con, source, landing, "load-1")
    project = dbt_project_copy(work)
    env = {"C360_DBT_TARGET": "dev", "C360_DUCKDB_PATH": str(warehouse)}
    build = run_dbt(project, project, "dev", env, "duckdb-1")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select user_main_id, other_id, other_id_type from stitching.user_id_stitcher").fetchall()
    return {**build, "stitcher": rows}


def _partition(rows: list[tuple[str, str, str]]) -> set[frozenset[tuple[str, str]]]:
    profiles: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for main_id, other_id, other_type in rows:
        profiles[main_id].add((other_id, other_type))
    return {frozenset(ids) for ids in profiles.values()}


@pytest.fixture(scope="module")
def runs(snowflake_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from include.synthetic import generate
    from include.warehouse.snowflake import snowflake_hook

    work = tmp_path_factory.mktemp("snowflake_dbt")
    landing = work / "landing"
    generate(landing, num_customers=150, seed=11)
    out = build_on_snowflake(snowflake_emulator, work / "snowflake", landing, DATABASE, ("build-1", "build-2"))
    with snowflake_deployment(snowflake_emulator, DATABASE, work), \
            closing(snowflake_hook().get_conn()) as conn, closing(conn.cursor()) as cur:
        cur.execute("select user_main_id, other_id, other_id_type from stitching.user_id_stitcher")
        stitcher = cur.fetchall()
        cur.execute("select table_schema, table_name from information_schema.tables "
                    "where table_schema in ('STAGING', 'STITCHING', 'MARTS', 'ANALYTICS', 'AUDIT')")
        tables = sorted(f"{s}.{t}".lower() for s, t in cur.fetchall())
    out["export"] = {"stitcher": stitcher, "tables": tables}
    started = time.monotonic()
    out["shadow"] = shadow_rebuild_on_snowflake(snowflake_emulator, work, DATABASE, "shadow-1")
    print(f"\nshadow rebuild and comparisons on the emulator: {time.monotonic() - started:.0f} s")
    out["duckdb"] = duckdb_build(work / "duckdb", landing)
    return out


def test_the_loader_fills_every_raw_table_and_reconciles(runs) -> None:
    counts = runs["load"]
    assert {c["source"] for c in counts} == {"identifies_js", "identifies_ruby", "orders", "order_items",
                                            "products", "designs"}
    assert all(c["rows_read"] == c["rows_loaded"] + c["rows_rejected"] and c["rows_loaded"] > 0 for c in counts)


@pytest.mark.parametrize("build", ["build-1", "build-2"])
def test_every_model_seed_and_test_builds_on_snowflake(runs, build: str) -> None:
    result = runs[build]
    assert len(result["results"]) > 100, result["results"]
    assert not failures(result), failures(result)
    assert result["returncode"] == 0, result["output"]


def test_only_the_second_build_takes_the_incremental_path(runs) -> None:
    assert runs["build-1"]["incremental"] == []
    assert runs["build-2"]["incremental"] == ["fct_identify_events", "fct_order_items"]


def test_every_layer_and_the_audit_exist_on_snowflake(runs) -> None:
    tables = set(runs["export"]["tables"])
    for table in ("stitching.user_id_stitcher", "stitching.excluded_ids", "marts.with_user_id",
                  "marts.fct_orders", "analytics.kpi_summary", "audit.dbt_results"):
        assert table in tables, sorted(tables)


def test_the_stitcher_partitions_ids_as_the_duckdb_build_does(runs) -> None:
    assert not failures(runs["duckdb"]), failures(runs["duckdb"])
    assert runs["duckdb"]["returncode"] == 0, runs["duckdb"]["output"]
    snowflake, duckdb = runs["export"]["stitcher"], runs["duckdb"]["stitcher"]
    assert len(snowflake) == len(duckdb) > 0
    assert _partition(snowflake) == _partition(duckdb)
    # user_main_id is an md5 of the profile's smallest id, so the labels agree too.
    assert sorted(map(tuple, snowflake)) == sorted(map(tuple, duckdb))


def test_the_incremental_build_equals_its_shadow_full_rebuild(runs) -> None:
    diffs = runs["shadow"]["equal"]
    assert {"stitching.user_id_stitcher", "marts.fct_order_items", "marts.fct_identify_events",
            "analytics.kpi_summary"} <= {d.relation for d in diffs}
    assert [d.describe() for d in diffs if d.differs] == []


def test_a_deleted_row_fails_the_shadow_check_naming_exactly_its_relation(runs) -> None:
    differing = [d for d in runs["shadow"]["corrupted"] if d.differs]
    assert [(d.relation, d.shadow_rows - d.build_rows, d.only_in_build, d.only_in_shadow) for d in differing] == [
        ("stitching.user_id_stitcher", 1, 0, 1)]
    summary, per_relation = runs["shadow"]["checks"]
    assert summary.status == "fail" and summary.detail.startswith("1 of ")
    assert "stitching.user_id_stitcher (build " in summary.detail
    assert (per_relation.check_name, per_relation.status) == ("shadow_rebuild:stitching.user_id_stitcher", "fail")
    assert runs["shadow"]["shadow_left"] == []
