"""The shadow full rebuild's comparison and its gate check on both targets (DuckDB, and the Snowflake
emulator through the product's hook), on a build and a shadow written here. dbt building both for
real: tests/dbt/test_shadow_rebuild.py (emulator) and tests/e2e/test_dq_gate_runs.py (the DAG on DuckDB)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import duckdb
import pytest

from include import settings
from include.orchestration.dbt_cli import DbtInvocation
from include.publishing.shadow import (
    COLOUR,
    RelationDiff,
    built_relations,
    compare,
    drop_shadow,
    record,
    recorded,
    stamp_columns,
)
from include.quality.checks import check_shadow_rebuild
from include.quality.gate import GateFailed, run_gate
from include.quality.run_facts import Baseline, RunFacts
from include.warehouse.db import Db
from tests.unit.quality.test_dq_gate import REFERENCE, THRESHOLDS, build_warehouse

RUN = "manual__2026-11-01T00:00:00+00:00"
RELATIONS = ["marts.fct_orders", "stitching.stitch_cluster_health", "stitching.user_id_stitcher"]
STITCHER = [("m1", "anna", "user_id"), ("m1", "a-1", "anonymous_id"), ("m2", "ben", "user_id")]
ORDERS = [("o1", "2026-10-01 10:00:00", 10.5), ("o2", "2026-10-02 11:00:00", 20.0)]


def write_build(db: Db, colour: str, run_id: str, measured_at: str) -> None:
    """What a dbt build of that colour leaves; stitch_cluster_health stamps the run and the time."""
    db.script(
        [
            f"create schema if not exists stitching__{colour}",
            f"create schema if not exists marts__{colour}",
            f"create or replace table stitching__{colour}.user_id_stitcher (user_main_id varchar, other_id varchar, "
            "other_id_type varchar)",
            f"create or replace table stitching__{colour}.stitch_cluster_health (airflow_run_id varchar, "
            "total_profiles bigint, measured_at timestamp)",
            f"create or replace table marts__{colour}.fct_orders (order_id varchar, ordered_at timestamp, "
            "revenue_usd numeric(18, 2))",
        ]
    )
    db.execute_many(f"insert into stitching__{colour}.user_id_stitcher values (?, ?, ?)", STITCHER)
    db.execute(f"insert into stitching__{colour}.stitch_cluster_health values (?, 2, ?)", (run_id, measured_at))
    db.execute_many(f"insert into marts__{colour}.fct_orders values (?, cast(? as timestamp), ?)", ORDERS)


@pytest.fixture
def db(either_warehouse: Db) -> Db:
    write_build(either_warehouse, "blue", RUN, "2026-11-01 01:00:00")
    # The shadow is built later, by a task of the same run (a retried build could stamp another run id).
    write_build(either_warehouse, COLOUR, "manual__other", "2026-11-01 01:30:00")
    return either_warehouse


def facts(shadow_rebuild: bool = True) -> RunFacts:
    return RunFacts(RUN, datetime(2026, 11, 1, tzinfo=UTC), "test", Baseline(), shadow_rebuild)


def test_equal_builds_compare_equal_whatever_their_stamps(db: Db) -> None:
    diffs = compare(db, "blue", RELATIONS)
    assert [(d.relation, d.build_rows, d.shadow_rows, d.differs) for d in diffs] == [
        ("marts.fct_orders", 2, 2, False),
        ("stitching.stitch_cluster_health", 1, 1, False),
        ("stitching.user_id_stitcher", 3, 3, False),
    ]
    record(db, RUN, "blue", diffs)
    (check,) = check_shadow_rebuild(db, facts())
    assert (check.check_name, check.status, check.observed_value) == ("shadow_rebuild", "pass", 0.0)
    assert "all 3 relations equal" in check.detail


def test_one_corrupted_row_fails_the_check_naming_exactly_its_relation(db: Db) -> None:
    db.execute("delete from stitching__blue.user_id_stitcher where other_id = 'a-1'")
    # A data column named like a time stamp (ordered_at) is compared.
    db.execute(
        "update marts__blue.fct_orders set ordered_at = cast('2026-10-03 09:00:00' as timestamp) where order_id = 'o2'"
    )
    diffs = {d.relation: d for d in compare(db, "blue", RELATIONS)}
    assert diffs["stitching.user_id_stitcher"] == RelationDiff("stitching.user_id_stitcher", 2, 3, 0, 1)
    assert diffs["marts.fct_orders"] == RelationDiff("marts.fct_orders", 2, 2, 1, 1)
    assert not diffs["stitching.stitch_cluster_health"].differs
    record(db, RUN, "blue", list(diffs.values()))
    assert recorded(db, RUN) == sorted(diffs.values(), key=lambda d: d.relation)
    summary, *per_relation = check_shadow_rebuild(db, facts())
    assert (summary.status, summary.observed_value) == ("fail", 2.0)
    assert summary.detail.startswith(
        "2 of 3 relations differ: marts.fct_orders (build 2 rows, shadow 2 rows; "
        "1 only in build, 1 only in shadow); stitching.user_id_stitcher (build 2 rows, "
        "shadow 3 rows; 0 only in build, 1 only in shadow)"
    )
    assert [(c.check_name, c.layer, c.status, c.observed_value) for c in per_relation] == [
        ("shadow_rebuild:marts.fct_orders", "marts", "fail", 2.0),
        ("shadow_rebuild:stitching.user_id_stitcher", "stitching", "fail", 1.0),
    ]


def test_floats_are_compared_to_ten_significant_digits(either_warehouse: Db) -> None:
    """A float sum's last bits depend on the order the rows were added in; 0 and null still differ."""
    db = either_warehouse
    rows = {
        "blue": [(1, 231159.26000000018), (2, 389.15700336700365), (3, 0.0), (4, None), (5, -2.5e-7)],
        COLOUR: [(1, 231159.26000000013), (2, 389.1570033670036), (3, 0.0), (4, None), (5, -2.5e-7)],
    }
    for colour, values in rows.items():
        db.script(
            [
                f"create schema if not exists analytics__{colour}",
                f"create or replace table analytics__{colour}.kpi_summary (kpi_order integer, kpi_value double)",
            ]
        )
        db.execute_many(f"insert into analytics__{colour}.kpi_summary values (?, ?)", values)
    assert not compare(db, "blue", ["analytics.kpi_summary"])[0].differs
    db.execute("update analytics__blue.kpi_summary set kpi_value = 231159.261 where kpi_order = 1")
    db.execute("update analytics__blue.kpi_summary set kpi_value = null where kpi_order = 3")
    assert compare(db, "blue", ["analytics.kpi_summary"])[0] == RelationDiff("analytics.kpi_summary", 5, 5, 2, 2)


def test_the_shadow_schemas_are_dropped(db: Db) -> None:
    drop_shadow(db)
    assert not db.table_exists(f"stitching__{COLOUR}.user_id_stitcher")
    assert db.table_exists("stitching__blue.user_id_stitcher")


def test_a_relation_or_a_column_on_one_side_only_differs(tmp_path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        db = Db(con)
        write_build(db, "blue", RUN, "2026-11-01 01:00:00")
        write_build(db, COLOUR, RUN, "2026-11-01 01:00:00")
        db.execute("alter table marts__blue.fct_orders add column coupon varchar")
        db.execute(f"drop table stitching__{COLOUR}.user_id_stitcher")
        diffs = {d.relation: d for d in compare(db, "blue", RELATIONS)}
    assert diffs["stitching.user_id_stitcher"] == RelationDiff(
        "stitching.user_id_stitcher", 3, None, 3, 0, "missing in the shadow"
    )
    orders = diffs["marts.fct_orders"]
    assert orders.differs and (orders.only_in_build, orders.only_in_shadow) == (0, 0)
    assert orders.detail == "columns only in the build: coupon"


def test_not_requested_passes_and_requested_without_a_comparison_fails(tmp_path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        db = Db(con)
        (off,) = check_shadow_rebuild(db, facts(shadow_rebuild=False))
        (missing,) = check_shadow_rebuild(db, facts())
    assert (off.status, off.detail) == ("pass", "not requested (param shadow_rebuild off)")
    assert missing.status == "fail" and "did the shadow_rebuild task run?" in missing.detail


def test_the_gate_runs_the_check_and_its_failure_names_the_relation(tmp_path) -> None:
    with duckdb.connect(str(tmp_path / "gate.duckdb")) as con:
        build_warehouse(con)
        assert {c.check_name: c.status for c in run_gate(con, RUN, THRESHOLDS, REFERENCE)}["shadow_rebuild"] == "pass"
        record(
            Db(con),
            RUN,
            "blue",
            [RelationDiff("stitching.user_id_stitcher", 2, 3, 0, 1), RelationDiff("marts.with_user_id", 5, 5)],
        )
        with pytest.raises(GateFailed) as failed:
            run_gate(con, RUN, THRESHOLDS, REFERENCE, shadow_rebuild=True)
    failing = {c.check_name for c in failed.value.failed}
    assert failing == {"shadow_rebuild", "shadow_rebuild:stitching.user_id_stitcher"}
    assert "stitching.user_id_stitcher (build 2 rows, shadow 3 rows; 0 only in build, 1 only in shadow)" in str(
        failed.value
    )


def test_the_relations_compared_are_the_published_layers_models_and_seeds() -> None:
    import json

    nodes = json.loads(settings.DBT_MANIFEST.read_text())["nodes"]
    relations = built_relations(nodes)
    assert {
        "stitching.user_id_stitcher",
        "stitching.stitch_exclusion_list",
        "marts.fct_order_items",
        "marts.with_user_id",
        "analytics.kpi_summary",
    } <= set(relations)
    assert not [r for r in relations if r.split(".")[0] not in ("stitching", "marts", "analytics")]
    user_id_stitcher = next(
        u for u, n in nodes.items() if n["resource_type"] == "model" and n["name"] == "user_id_stitcher"
    )
    assert built_relations(nodes, [user_id_stitcher]) == ["stitching.user_id_stitcher"]


# A model column filled with the run id, the dbt invocation or the current time stamps the build.
STAMPED = re.compile(
    r"(current_timestamp|airflow_run_id|invocation_id|run_started_at|now\(\)).*\bas\s+(\w+)\s*,?\s*$", re.IGNORECASE
)


def test_every_column_that_stamps_the_build_is_left_out_of_the_comparison() -> None:
    stamped = {
        m.group(2).lower()
        for path in (settings.DBT_PROJECT_DIR / "models").rglob("*.sql")
        for line in path.read_text(encoding="utf-8").splitlines()
        if (m := STAMPED.search(line))
    }
    assert stamped and stamped <= stamp_columns(), stamped - stamp_columns()
    # Data columns that merely end in _at are compared.
    assert not {"ordered_at", "event_at", "received_at"} & stamp_columns()


def test_a_failed_dbt_invocation_shows_its_error_lines() -> None:
    output = "\n".join([*(f"line {i}" for i in range(30)), "Database Error in model x", "ERROR=1"])
    assert DbtInvocation(1, output).errors() == "Database Error in model x\nERROR=1"
    assert DbtInvocation(1, "\n".join(f"line {i}" for i in range(30))).errors().splitlines()[0] == "line 10"
