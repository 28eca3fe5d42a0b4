"""The gate's checks on audit and model tables built directly in a temporary DuckDB file (fast)."""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from include.orchestration.pipeline_config import load_pipeline_config
from include.quality import checks, run_facts
from include.quality.gate import GateFailed, run_gate
from include.quality.report import size_buckets
from tests.conftest import PROFILE_SIZES_SQL

THRESHOLDS = load_pipeline_config().gate
REFERENCE = (datetime(2026, 11, 1, tzinfo=UTC), "test")
RUN = "manual__2026-11-01T00:00:00+00:00"


def build_warehouse(con: duckdb.DuckDBPyConnection, run_id: str = RUN, *, rejected: int = 0,
                    clusters: list[int] | None = None, negative_revenue: bool = False, orders: int = 100,
                    newest_event: datetime = datetime(2026, 10, 31, 12), excluded: int = 4,
                    test_status: str = "pass") -> None:
    """The tables the gate reads, with a healthy run unless told otherwise."""
    con.execute("""
        create schema if not exists audit; create schema if not exists raw; create schema if not exists staging;
        create schema if not exists stitching; create schema if not exists marts; create schema if not exists analytics;
        create table if not exists audit.dbt_results (airflow_run_id varchar, invocation_id varchar,
            unique_id varchar, resource_type varchar, node_name varchar, layer varchar, status varchar,
            failures bigint, execution_seconds double, message varchar, recorded_at timestamp);
        create table if not exists audit.load_batches (run_id varchar, source varchar, file_name varchar,
            rows_read bigint, rows_loaded bigint, rows_rejected bigint, loaded_at timestamp);
    """)
    con.execute("insert into audit.dbt_results values ($r, 'i', 'test.c360.not_null_x.1', 'test', 'not_null_x', "
                "'marts', $s, $f, 0.1, '', now())", {"r": run_id, "s": test_status,
                                                    "f": 0 if test_status == "pass" else 3})
    for source, read in (("orders", 1000), ("identifies_js", 2000)):
        rej = rejected if source == "orders" else 0
        con.execute("insert into audit.load_batches values ($r, $s, 'part-0.csv', $n, $l, $j, now())",
                    {"r": run_id, "s": source, "n": read, "l": read - rej, "j": rej})
    clusters = clusters or [1] * 50 + [2] * 30 + [3] * 10 + [6]
    # Profile c holds clusters[c] ids, alternately user_id and anonymous_id.
    con.execute("""
        create or replace table stitching.user_id_stitcher as
        select 'm' || c.i as user_main_id, 'id' || c.i || '_' || t.k as other_id,
               case when t.k % 2 = 0 then 'user_id' else 'anonymous_id' end as other_id_type
        from (select unnest($sizes) as size, generate_subscripts($sizes, 1) as i) as c,
             range(c.size) as t(k)
    """, {"sizes": clusters})
    con.execute(f"create or replace table stitching.int_profile_sizes as {PROFILE_SIZES_SQL}")
    con.execute("create or replace table stitching.excluded_ids as select 'x' || range as other_id, "
                f"'anonymous_id' as other_id_type, 'super_connector' as reason from range({excluded})")
    con.execute(f"create or replace table raw.orders as select range as id from range({orders})")
    for table in ("raw.identifies_js", "raw.identifies_ruby"):
        con.execute(f"create or replace table {table} as select range as id from range(500)")
    con.execute("create or replace table staging.stg_rudderstack__identifies as select $t::timestamp as event_at",
                {"t": newest_event})
    con.execute("create or replace table staging.stg_shop__orders as select $t::timestamp as ordered_at",
                {"t": newest_event})
    con.execute(f"create or replace table marts.fct_orders as select range as order_id, "
                f"{'-5.0' if negative_revenue else '10.0'} as revenue_usd from range({orders})")
    con.execute("create or replace table marts.with_user_id as select 'u' || range as user_id, 3 as total_orders, "
                "30.0 as lifetime_revenue_usd, 10.0 as avg_order_value_usd from range(20)")
    con.execute("create or replace table analytics.product_performance as select 0.5 as repeat_purchase_rate, "
                "0.2 as customer_penetration, 0.1 as revenue_share")
    con.execute("create or replace table analytics.market_basket as select 0.01 as support, "
                "0.3 as confidence_a_to_b, 0.4 as confidence_b_to_a")


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "gate.duckdb"))
    yield connection
    connection.close()


def statuses(con: duckdb.DuckDBPyConnection, run_id: str = RUN) -> dict[str, str]:
    return dict(con.execute("select check_name, status from audit.dq_gate_results where run_id = $r",
                            {"r": run_id}).fetchall())


def test_a_healthy_run_passes_every_check_and_records_them(con, caplog) -> None:
    build_warehouse(con)
    with caplog.at_level(logging.INFO, logger="include.quality.gate"):
        checks = run_gate(con, RUN, THRESHOLDS, REFERENCE)
    recorded = statuses(con)
    assert {c.check_name for c in checks} == set(recorded)
    assert set(recorded.values()) == {"pass"}, {k: v for k, v in recorded.items() if v != "pass"}
    assert {"dbt_tests", "rejected_share:orders", "reconcile:orders", "stitching:largest_cluster_ids",
            "stitching:median_cluster_ids", "stitching:share_profiles_over_5_user_ids",
            "excluded_ids:super_connector", "rows:marts.with_user_id", "freshness:identifies", "freshness:orders",
            "features:negative_revenue", "features:rates_outside_0_1", "features:orders_per_profile"} <= set(recorded)
    # The log ends with the table of every check.
    last_lines = caplog.records[-1].getMessage().splitlines()[-len(checks):]
    assert {line.split()[1] for line in last_lines} == set(recorded)


def test_each_broken_input_fails_exactly_its_check_and_all_results_are_written(con) -> None:
    build_warehouse(con, rejected=50, clusters=[1] * 40 + [10_001], negative_revenue=True)
    with pytest.raises(GateFailed) as failed:
        run_gate(con, RUN, THRESHOLDS, REFERENCE)
    recorded = statuses(con)
    fails = {k for k, v in recorded.items() if v == "fail"}
    assert fails == {"rejected_share:orders", "stitching:largest_cluster_ids", "features:negative_revenue"}
    assert {c.check_name for c in failed.value.failed} == fails
    assert "stitching:largest_cluster_ids observed 10001" in str(failed.value)
    assert len(recorded) > len(fails) + 10  # everything else was written too


@pytest.mark.parametrize(("rejected", "expected"), [(0, "pass"), (1, "pass"), (5, "warn"), (10, "warn"),
                                                    (11, "fail")])
def test_rejected_share_warns_above_a_tenth_of_a_percent_and_fails_above_one(con, rejected, expected) -> None:
    build_warehouse(con, rejected=rejected)  # of 1000 orders rows
    with contextlib.suppress(GateFailed):
        run_gate(con, RUN, THRESHOLDS, REFERENCE)
    assert statuses(con)["rejected_share:orders"] == expected


@pytest.mark.parametrize(("clusters", "check", "expected"), [
    ([1] * 10 + [1_001], "stitching:largest_cluster_ids", "warn"),
    ([1] * 10 + [10_000], "stitching:largest_cluster_ids", "warn"),
    ([4] * 10, "stitching:median_cluster_ids", "fail"),
    ([3] * 10, "stitching:median_cluster_ids", "pass"),
    # 2 of 20 profiles with more than 5 user_ids (12 ids alternate types: 6 user_ids) = 10 %
    ([1] * 18 + [12, 12], "stitching:share_profiles_over_5_user_ids", "fail"),
])
def test_stitching_health_thresholds(con, clusters, check, expected) -> None:
    build_warehouse(con, clusters=clusters)
    with contextlib.suppress(GateFailed):
        run_gate(con, RUN, THRESHOLDS, REFERENCE)
    assert statuses(con)[check] == expected


def test_comparisons_use_the_latest_earlier_run_that_did_not_fail(con) -> None:
    build_warehouse(con, "run_1", orders=100, excluded=4)
    run_gate(con, "run_1", THRESHOLDS, REFERENCE)
    # run_2 fails (negative revenue) with very different numbers: it must not become the baseline.
    build_warehouse(con, "run_2", orders=1000, excluded=40, negative_revenue=True)
    with pytest.raises(GateFailed):
        run_gate(con, "run_2", THRESHOLDS, REFERENCE)
    build_warehouse(con, "run_3", orders=160, excluded=7)
    run_gate(con, "run_3", THRESHOLDS, REFERENCE)
    rows = {name: (status, observed, baseline, base_run) for name, status, observed, baseline, base_run in con.execute(
        "select check_name, status, observed_value, baseline_value, baseline_run_id from audit.dq_gate_results "
        "where run_id = 'run_3'").fetchall()}
    assert rows["rows:raw.orders"] == ("warn", 160, 100, "run_1")  # +60 %
    assert rows["rows:marts.fct_orders"][0] == "warn"
    assert rows["rows:raw.identifies_js"] == ("pass", 500, 500, "run_1")
    assert rows["excluded_ids:super_connector"] == ("warn", 7, 4, "run_1")  # +75 %


def test_an_empty_key_table_fails(con) -> None:
    build_warehouse(con)
    con.execute("delete from marts.with_user_id")
    with pytest.raises(GateFailed):
        run_gate(con, RUN, THRESHOLDS, REFERENCE)
    assert statuses(con)["rows:marts.with_user_id"] == "fail"


@pytest.mark.parametrize(("newest", "expected"), [(datetime(2026, 10, 31), "pass"), (datetime(2026, 10, 28), "warn"),
                                                  (datetime(2026, 10, 20), "fail"), (datetime(2026, 11, 9), "warn")])
def test_freshness_is_judged_against_the_reference_not_the_wall_clock(con, newest, expected) -> None:
    build_warehouse(con, newest_event=newest)
    with contextlib.suppress(GateFailed):
        run_gate(con, RUN, THRESHOLDS, REFERENCE)
    assert statuses(con)["freshness:identifies"] == expected


def test_reference_comes_from_the_param_then_the_synthetic_data_then_the_data_interval(tmp_path: Path) -> None:
    class TI:
        def __init__(self, landing: str) -> None:
            self.landing = landing

        def xcom_pull(self, task_ids: str) -> str:
            return self.landing

    (tmp_path / "_generator.json").write_text(json.dumps({"reference_date": "2026-11-01T00:00:00Z"}))
    interval_end = datetime(2027, 3, 5, tzinfo=UTC)
    assert run_facts.resolve_reference({"params": {"reference_date": "2026-06-30"}, "ti": TI(str(tmp_path))}) == (
        datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC), "param reference_date")
    assert run_facts.resolve_reference({"params": {}, "ti": TI(str(tmp_path)), "data_interval_end": interval_end})[0] \
        == datetime(2026, 11, 1, tzinfo=UTC)
    assert run_facts.resolve_reference({"params": {}, "ti": TI(str(tmp_path / "nope")),
                                      "data_interval_end": interval_end}) == (interval_end, "data_interval_end")
    # A day the generator appended (include/synthetic/days.py) moves the synthetic data's end.
    (tmp_path / "_day-20261101.json").write_text(json.dumps({"reference_date": "2026-11-02T00:00:00Z"}))
    assert run_facts.resolve_reference({"params": {}, "ti": TI(str(tmp_path)), "data_interval_end": interval_end})[0] \
        == datetime(2026, 11, 2, tzinfo=UTC)


def test_feature_sanity(con) -> None:
    build_warehouse(con, orders=2)  # profiles claim 3 orders, the orders table holds 2
    con.execute("create or replace table analytics.market_basket as select 1.5 as support, "
                "0.3 as confidence_a_to_b, 0.4 as confidence_b_to_a")
    with pytest.raises(GateFailed):
        run_gate(con, RUN, THRESHOLDS, REFERENCE)
    got = statuses(con)
    assert got["features:orders_per_profile"] == "fail"
    assert got["features:rates_outside_0_1"] == "fail"
    assert got["features:negative_revenue"] == "pass"


def test_a_missing_rate_column_warns_instead_of_passing_silently(con) -> None:
    build_warehouse(con)
    con.execute("alter table analytics.product_performance drop column revenue_share")
    run_gate(con, RUN, THRESHOLDS, REFERENCE)
    assert statuses(con)["features:rates_outside_0_1"] == "warn"


def test_a_failing_dbt_test_is_listed_with_its_model(con, monkeypatch) -> None:
    monkeypatch.setattr(checks, "_test_nodes", lambda: {"test.c360.not_null_x.1": {
        "attached_node": "model.c360.fct_orders", "config": {"store_failures": True},
        "schema": "dbt_test__audit", "alias": "not_null_x"}})
    build_warehouse(con, test_status="fail")
    with pytest.raises(GateFailed):
        run_gate(con, RUN, THRESHOLDS, REFERENCE)
    detail = dict(con.execute("select check_name, detail from audit.dq_gate_results").fetchall())
    assert "not_null_x on fct_orders" in detail["dbt_tests"]
    assert detail["dbt_test:not_null_x"] == "model fct_orders; failing rows in dbt_test__audit.not_null_x"


def test_a_rerun_of_the_gate_replaces_its_rows(con) -> None:
    build_warehouse(con)
    run_gate(con, RUN, THRESHOLDS, REFERENCE)
    first = con.execute("select count(*) from audit.dq_gate_results").fetchone()[0]
    run_gate(con, RUN, THRESHOLDS, REFERENCE)
    assert con.execute("select count(*) from audit.dq_gate_results").fetchone()[0] == first
    assert con.execute("select sum(profiles) from audit.dq_cluster_sizes").fetchone()[0] == 91


def test_size_buckets_are_powers_of_two() -> None:
    assert size_buckets([1, 1, 2, 3, 4, 5, 8, 9, 10_001]) == [
        (1, 1, 2), (2, 2, 1), (3, 4, 2), (5, 8, 2), (9, 16, 1), (8193, 16384, 1)]
