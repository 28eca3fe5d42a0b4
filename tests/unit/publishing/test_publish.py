"""Write, audit, publish on both targets (DuckDB, and the Snowflake emulator through the product's
hook): which colour a run builds, what a publish switches, what a refused build leaves, the hand-off
snapshot. The whole DAG doing it is tests/e2e/test_dq_gate_runs.py."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from include.publishing.build import (
    latest_build,
    plan_build,
    published_build,
    published_layers,
    reading,
    schema_map,
)
from include.publishing.export import Superseded, export_features
from include.publishing.publish import INTERNAL, gate_status, publish
from include.quality.report import RESULTS_DDL
from include.warehouse.db import Db


@pytest.fixture
def db(either_warehouse: Db) -> Db:
    either_warehouse.script(RESULTS_DDL)
    return either_warehouse


def build_layers(db: Db, colour: str, users: list[str], extra_model: str | None = None) -> None:
    """What a dbt build of that colour leaves: a table per model of each published layer."""
    for layer, schema in schema_map(colour).items():
        db.execute(f"create schema if not exists {schema}")
        if layer == "marts":
            db.execute(f"create or replace table {schema}.with_user_id (user_id varchar, total_orders integer)")
            db.execute_many(f"insert into {schema}.with_user_id values (?, ?)", [(u, i) for i, u in enumerate(users)])
        else:
            db.execute(f"create or replace table {schema}.{layer}_model (n integer)")
        if extra_model:
            db.execute(f"create or replace table {schema}.{extra_model} (n integer)")


def judge(db: Db, run_id: str, status: str) -> None:
    db.execute("insert into audit.dq_gate_results (run_id, check_name, layer, status) values (?, 'c', 'x', ?)",
               (run_id, status))


def features(db: Db) -> list[str]:
    return [u for (u,) in db.rows("select user_id from marts.with_user_id order by user_id")]


def run(db: Db, run_id: str, users: list[str], status: str, **build: str) -> str:
    colour = plan_build(db, run_id)
    build_layers(db, colour, users, **build)
    judge(db, run_id, status)
    if status != "fail":
        publish(db, run_id)
    return colour


def test_runs_alternate_colours_and_a_refused_build_is_never_read(db: Db) -> None:
    assert run(db, "r1", ["ann", "ben"], "pass") == "blue"
    assert features(db) == ["ann", "ben"]
    # A refused build goes to the other colour and readers stay on r1.
    assert run(db, "r2", ["giant"], "fail") == "green"
    assert features(db) == ["ann", "ben"]
    assert published_build(db).run_id == "r1" and latest_build(db).run_id == "r2"
    with pytest.raises(RuntimeError, match="failed its gate"):
        publish(db, "r2")
    assert features(db) == ["ann", "ben"]
    # The next run builds the unpublished colour again (never the one readers read), then publishes it.
    assert run(db, "r3", ["ann", "ben", "cat"], "warn") == "green"
    assert features(db) == ["ann", "ben", "cat"]
    assert published_build(db).run_id == "r3"
    assert run(db, "r4", ["dan"], "pass") == "blue"
    assert features(db) == ["dan"]


def test_on_call_reads_the_latest_build_or_the_published_one(db: Db) -> None:
    run(db, "r1", ["ann"], "pass")
    run(db, "r2", ["giant"], "fail")
    assert [u for (u,) in reading(db, "latest").rows("select user_id from marts.with_user_id")] == ["giant"]
    assert [u for (u,) in reading(db, "published").rows("select user_id from marts.with_user_id")] == ["ann"]
    with pytest.raises(ValueError, match="not one of: latest, published"):
        reading(db, "newest")


def test_a_build_without_gate_results_is_not_published(db: Db) -> None:
    plan_build(db, "r1")
    build_layers(db, "blue", ["ann"])
    with pytest.raises(RuntimeError, match="no gate results"):
        publish(db, "r1")
    assert published_build(db) is None and not db.table_exists("marts.with_user_id")


def test_publish_drops_views_of_models_gone_and_keeps_tables_of_its_own(db: Db) -> None:
    run(db, "r1", ["ann"], "pass", extra_model="retired_model")
    assert all(db.table_exists(f"{layer}.retired_model") for layer in published_layers())
    # A table kept across runs under a contract schema (not built by dbt) is left alone.
    db.execute("create table stitching.kept_history (n integer)")
    run(db, "r2", ["ben"], "pass")
    assert not any(db.table_exists(f"{layer}.retired_model") for layer in published_layers())
    assert db.table_exists("stitching.kept_history")


@pytest.mark.parametrize("internal", [
    "int_id_components__cc_state", "dim_customers__features", "market_basket__pair_counts",
    "product_performance__customers"])
def test_models_internal_tables_get_no_view(db: Db, internal: str) -> None:
    run(db, "r1", ["ann"], "pass", extra_model=internal)
    assert db.table_exists(f"stitching__blue.{internal}")
    assert not any(db.table_exists(f"{layer}.{internal}") for layer in published_layers())
    assert db.table_exists("stitching.stitching_model")


def test_only_internal_names_are_internal() -> None:
    assert not [n for n in ("dim_customers", "with_user_id", "features_daily", "dim_customers__features_v2")
                if INTERNAL.search(n)]


def test_a_warehouse_from_before_publishing_gets_views_for_its_tables(db: Db) -> None:
    db.execute("create schema if not exists marts")
    db.execute("create table marts.with_user_id (user_id varchar, total_orders integer)")
    db.execute("insert into marts.with_user_id values ('legacy', 1)")
    run(db, "r1", ["ann"], "pass")
    assert features(db) == ["ann"]
    assert db.scalar("select count(*) from information_schema.views where upper(table_schema) = 'MARTS' "
                     "and upper(table_name) = 'WITH_USER_ID'") == 1


def test_gate_status_is_warn_when_any_check_warned(db: Db) -> None:
    judge(db, "r1", "pass")
    judge(db, "r1", "warn")
    assert gate_status(db, "r1") == "warn"


def test_the_snapshot_is_the_published_run_once_per_run(db: Db, tmp_path: Path) -> None:
    run(db, "scheduled__2026-12-01T00:00:00+00:00", ["ann", "ben"], "pass")
    first = export_features(db, tmp_path, "scheduled__2026-12-01T00:00:00+00:00")
    assert first.written and first.rows == 2
    assert Path(first.path).parent.name.startswith("dt=") and ":" not in Path(first.path).name
    assert pq.read_table(first.path).column("user_id").to_pylist() == ["ann", "ben"]
    again = export_features(db, tmp_path, "scheduled__2026-12-01T00:00:00+00:00")
    assert not again.written and again.path == first.path and again.rows == 2
    # A refused run is never exported; an event of a superseded run is skipped.
    run(db, "r2", ["giant"], "fail")
    assert export_features(db, tmp_path).run_id == "scheduled__2026-12-01T00:00:00+00:00"
    run(db, "r3", ["cat"], "pass")
    with pytest.raises(Superseded, match="no longer published"):
        export_features(db, tmp_path, "scheduled__2026-12-01T00:00:00+00:00")
    latest = export_features(db, tmp_path, "r3")
    assert pq.read_table(latest.path).column("user_id").to_pylist() == ["cat"]


def test_nothing_published_cannot_be_exported(db: Db, tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="nothing is published yet"):
        export_features(db, tmp_path)
