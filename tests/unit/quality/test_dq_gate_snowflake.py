"""The gate and the alerts on Snowflake semantics: the Snowflake emulator (fakesnow's HTTP server,
include/warehouse/emulator.py) stands in for Snowflake behind the product's hook, the same way a
deployment with C360_TARGET=snowflake reaches it, and the product code runs unchanged
(include/tasks.gate, include/quality, include/oncall, connect_warehouse()).

The fast tests create the tables the gate reads in Snowflake SQL, small and healthy unless a test
breaks them (audit.load_batches from the Snowflake loader's own DDL), each test on a database of its
own. The slow one runs the gate on what the Snowflake loader and the whole dbt project (as shipped,
through the profile Cosmos builds) built on the emulator, audit.dbt_results included: the build is
tests/dbt/test_snowflake_dbt.py's, made once for this module. tests/e2e/test_snowflake_dag_run.py runs the
gate inside a whole customer_360 run on the emulator, but only on healthy data; here the same build
is also broken and must fail exactly the check that covers it.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from include.loading.snowflake_loader import AUDIT_DDL
from include.oncall import callbacks
from include.orchestration import tasks
from include.orchestration.pipeline_config import load_pipeline_config
from include.publishing.build import plan_build, schema_map
from include.quality.gate import GateFailed, run_gate
from include.warehouse import connect_warehouse
from include.warehouse.db import Db
from include.warehouse.emulator import Emulator
from tests.conftest import PROFILE_SIZES_SQL
from tests.support.snowflake_emulator import CONN_ID

RUN = "manual__2026-11-20T10:00:00+00:00"
HEALTHY_CLUSTERS = [1] * 12 + [2] * 6 + [3] * 2  # ids per profile


@pytest.fixture
def snowflake(snowflake_target: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    """A Snowflake deployment on the emulator (snowflake_target: the target and the Airflow connection
    the hook reads) on a database of this test's own, and a connection of the test's own, opened by
    the product's hook, to seed and inspect tables."""
    from include.warehouse.snowflake import snowflake_hook

    connection = snowflake_target.connection()
    connection["extra"]["database"] = f"c360_gate_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
    for name in ("AIRFLOW_CONN_C360_ALERTS_SMTP", "AIRFLOW_CONN_C360_ALERTS_SLACK"):
        monkeypatch.delenv(name, raising=False)
    with contextlib.closing(snowflake_hook().get_conn()) as conn:
        yield Db(conn, "snowflake")


def seed(db: Db, run_id: str = RUN, *, clusters: list[int] = HEALTHY_CLUSTERS, orders: int = 40,
         rejected: int = 0, negative_revenue: bool = False, test_status: str = "pass") -> None:
    """The tables the gate reads, replaced for this run, in the build the run planned (as dbt writes them)."""
    newest = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=12)
    colour = plan_build(db, run_id)
    db = db.with_schemas(schema_map(colour))
    db.script([
        *(f"create schema if not exists {s}" for s in schema_map(colour).values()),
        *AUDIT_DDL,
        *(f"create schema if not exists {s}" for s in ("staging", "stitching", "marts", "analytics")),
        # The columns dbt/macros/hooks/record_run_results.sql creates.
        """create table if not exists audit.dbt_results (airflow_run_id varchar, invocation_id varchar,
            unique_id varchar, resource_type varchar, node_name varchar, layer varchar, status varchar,
            failures bigint, execution_seconds double precision, message varchar, recorded_at timestamp)""",
        "create or replace table stitching.user_id_stitcher (user_main_id varchar, other_id varchar, "
        "other_id_type varchar)",
        "create or replace table stitching.excluded_ids (other_id varchar, other_id_type varchar, reason varchar)",
        "create or replace table staging.stg_rudderstack__identifies (event_at timestamp_ntz)",
        "create or replace table staging.stg_shop__orders (ordered_at timestamp_ntz)",
        "create or replace table marts.fct_orders (order_id varchar, revenue_usd number(18,2))",
        "create or replace table marts.with_user_id (user_id varchar, total_orders number(38,0), "
        "lifetime_revenue_usd number(18,2), avg_order_value_usd number(18,2))",
        "create or replace table analytics.product_performance (repeat_purchase_rate double, "
        "customer_penetration double, revenue_share double)",
        "create or replace table analytics.market_basket (support double, confidence_a_to_b double, "
        "confidence_b_to_a double)",
        *(f"create or replace table {t} (id number(38,0))" for t in ("raw.orders", "raw.identifies_js",
                                                                     "raw.identifies_ruby")),
    ])
    db.execute_many("insert into audit.dbt_results values (?, 'inv', ?, 'test', ?, 'marts', ?, ?, 0.1, '', ?)", [
        (run_id, "test.c360.not_null_fct_orders_order_id.1", "not_null_fct_orders_order_id", test_status,
         0 if test_status == "pass" else 3, newest),
        (run_id, "test.c360.unique_with_user_id_user_id.2", "unique_with_user_id_user_id", "pass", 0, newest),
    ])
    db.execute_many("insert into audit.load_batches values (?, ?, 'part-0.csv', ?, ?, ?, ?)", [
        (run_id, "orders", 1000, 1000 - rejected, rejected, newest),
        (run_id, "identifies_js", 2000, 2000, 0, newest),
    ])
    # Profile p holds clusters[p] ids, alternately user_id and anonymous_id.
    db.execute_many("insert into stitching.user_id_stitcher values (?, ?, ?)", [
        (f"m{p}", f"id{p}_{k}", "user_id" if k % 2 == 0 else "anonymous_id")
        for p, size in enumerate(clusters) for k in range(size)])
    db.execute(f"create or replace table stitching.int_profile_sizes as {PROFILE_SIZES_SQL}")
    db.execute_many("insert into stitching.excluded_ids values (?, 'anonymous_id', 'super_connector')",
                    [(f"x{i}",) for i in range(3)])
    db.execute("insert into staging.stg_rudderstack__identifies values (?)", (newest,))
    db.execute("insert into staging.stg_shop__orders values (?)", (newest,))
    revenue = -5 if negative_revenue else 10
    db.execute_many("insert into marts.fct_orders values (?, ?)", [(f"o{i}", revenue) for i in range(orders)])
    db.execute_many("insert into marts.with_user_id values (?, 2, 20, 10)", [(f"u{i}",) for i in range(10)])
    db.execute("insert into analytics.product_performance values (0.5, 0.2, 0.1)")
    db.execute("insert into analytics.market_basket values (0.01, 0.3, 0.4)")
    for table, count in (("raw.orders", orders), ("raw.identifies_js", 30), ("raw.identifies_ruby", 30)):
        db.execute_many(f"insert into {table} values (?)", [(i,) for i in range(count)])


def gate_rows(db: Db, run_id: str = RUN) -> dict[str, tuple]:
    return {name: tuple(rest) for name, *rest in db.rows(
        "select check_name, status, observed_value, baseline_value, baseline_run_id from audit.dq_gate_results "
        "where run_id = ?", (run_id,))}


def test_a_healthy_run_passes_every_check_on_snowflake(snowflake: Db) -> None:
    seed(snowflake)

    outcome = tasks.gate(RUN)  # the dq_gate task's own code: SnowflakeHook from C360_TARGET and the connection

    rows = gate_rows(snowflake)
    assert outcome == f"{len(rows)} checks on the blue build; Snowflake connection snowflake_default"
    assert {name for name, (status, *_) in rows.items() if status != "pass"} == set()
    assert {"dbt_tests", "reconcile:orders", "rejected_share:orders", "stitching:largest_cluster_ids",
            "stitching:median_cluster_ids", "stitching:share_profiles_over_5_user_ids",
            "excluded_ids:super_connector", "rows:raw.orders", "rows:marts.with_user_id", "freshness:identifies",
            "freshness:orders", "features:negative_revenue", "features:rates_outside_0_1",
            "features:orders_per_profile"} <= set(rows)
    assert rows["stitching:largest_cluster_ids"][1] == 3
    assert rows["stitching:median_cluster_ids"][1] == 1
    assert rows["rows:marts.fct_orders"][1] == 40
    # The cluster-size distribution: 12 profiles of 1 id, 6 of 2, 2 of 3 (bucket 3-4).
    assert snowflake.rows("select min_ids, max_ids, profiles from audit.dq_cluster_sizes where run_id = ? "
                          "order by min_ids", (RUN,)) == [(1, 1, 12), (2, 2, 6), (3, 4, 2)]


def test_broken_data_fails_exactly_its_checks_on_snowflake_and_alerts(snowflake: Db) -> None:
    # 2 of 20 profiles over-stitched (12 ids alternating types: 6 user_ids > 5) = 10 % > 5 %.
    seed(snowflake, clusters=[1] * 18 + [12, 12], negative_revenue=True, test_status="fail")

    with pytest.raises(GateFailed) as failed:
        tasks.gate(RUN)

    expected = {"stitching:share_profiles_over_5_user_ids", "features:negative_revenue", "dbt_tests",
                "dbt_test:not_null_fct_orders_order_id"}
    assert {c.check_name for c in failed.value.failed} == expected
    rows = gate_rows(snowflake)
    assert {name for name, (status, *_) in rows.items() if status == "fail"} == expected
    assert rows["stitching:share_profiles_over_5_user_ids"][1] == pytest.approx(0.1)
    assert rows["features:negative_revenue"][1] == 40
    assert len(rows) > len(expected) + 10  # every other check was recorded too

    # The task alert, as Airflow raises it (AirflowFailException, no GateFailed attached): the failing
    # checks are read back from audit.dq_gate_results on Snowflake and the alert lands in audit.alerts.
    ti = SimpleNamespace(dag_id="customer_360", task_id="dq_gate", run_id=RUN, try_number=1, max_tries=0)
    callbacks.task_failed({"ti": ti, "run_id": RUN, "exception": RuntimeError(str(failed.value))})
    callbacks.run_failed({"dag": SimpleNamespace(dag_id="customer_360"), "run_id": RUN, "reason": "task_failure",
                          "ti": ti})
    recorded = snowflake.rows("select kind, task_id, delivered_via, failing_checks from audit.alerts "
                              "where run_id = ? order by created_at", (RUN,))
    assert [(kind, task, via) for kind, task, via, _ in recorded] == [
        ("task_failed", "dq_gate", "log"), ("run_failed", "dq_gate", "none: the task alert of this run was sent")]
    assert {c["check_name"] for c in json.loads(recorded[0][3])} == expected


def test_comparisons_use_the_latest_run_that_did_not_fail_on_snowflake(snowflake: Db) -> None:
    seed(snowflake, "run_1", orders=40)
    tasks.gate("run_1")
    seed(snowflake, "run_2", orders=100, negative_revenue=True)
    with pytest.raises(GateFailed):
        tasks.gate("run_2")
    seed(snowflake, "run_3", orders=70)
    tasks.gate("run_3")

    rows = gate_rows(snowflake, "run_3")
    assert rows["rows:raw.orders"] == ("warn", 70, 40, "run_1")  # +75 % vs the last run that passed
    assert rows["rows:raw.identifies_js"] == ("pass", 30, 30, "run_1")
    assert rows["excluded_ids:super_connector"] == ("pass", 3, 3, "run_1")


# --- on a real dbt build ------------------------------------------------------------------------------

BUILD = "build-1"
BUILD_DATABASE = "c360_gate_build"


@pytest.fixture(scope="module")
def dbt_build(snowflake_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The landing loaded by the Snowflake loader and built by dbt-snowflake on the emulator, once for
    this module (tests/dbt/test_snowflake_dbt.py's steps and assertions); returns the work folder."""
    from include.synthetic import generate
    from tests.support.snowflake_dbt import build_on_snowflake, failures

    work = tmp_path_factory.mktemp("gate_snowflake_build")
    landing = work / "landing"
    generate(landing, num_customers=150, seed=11)
    built = build_on_snowflake(snowflake_emulator, work, landing, BUILD_DATABASE, (BUILD,))
    assert not failures(built[BUILD]) and built[BUILD]["returncode"] == 0, built[BUILD]["output"]
    return work


@pytest.mark.slow
def test_the_gate_judges_a_real_dbt_build_on_snowflake(snowflake_emulator: Emulator, dbt_build: Path) -> None:
    """The gate on what the Snowflake loader and dbt-snowflake built, through connect_warehouse() and
    the hook's connection, then again after a negative revenue is written into marts.fct_orders."""
    from tests.support.snowflake_dbt import snowflake_deployment

    stamp = json.loads((dbt_build / "landing" / "_generator.json").read_text())["reference_date"]
    reference = (datetime.fromisoformat(stamp.replace("Z", "+00:00")), "synthetic data's reference_date")
    thresholds = load_pipeline_config().gate
    outcome = {}
    with snowflake_deployment(snowflake_emulator, BUILD_DATABASE, dbt_build), connect_warehouse() as db:
        # The shared steps label the load "load-1" and the build with its step name; an Airflow run
        # carries one run id through both.
        db.execute("update audit.load_batches set run_id = ? where run_id = 'load-1'", (BUILD,))
        for case in ("clean", "negative_revenue"):
            if case == "negative_revenue":
                db.execute("update marts.fct_orders set revenue_usd = -1 where order_id = "
                           "(select min(order_id) from marts.fct_orders)")
            with contextlib.suppress(GateFailed):
                run_gate(db, BUILD, thresholds, reference)
            outcome[case] = {name: row[0] for name, row in gate_rows(db, BUILD).items()}

    clean = outcome["clean"]
    assert "fail" not in clean.values(), clean
    assert {"dbt_tests", "reconcile:orders", "stitching:largest_cluster_ids", "rows:marts.with_user_id",
            "freshness:orders", "features:negative_revenue"} <= set(clean)
    broken = outcome["negative_revenue"]
    assert {name for name, status in broken.items() if status == "fail"} == {"features:negative_revenue"}
