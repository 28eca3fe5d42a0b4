"""The on-call readers on the Snowflake target: the review page's queries, the stitching investigation
and `make run`'s summary read the same rows on the Snowflake emulator (fakesnow's HTTP server on
loopback, reached through the provider's SnowflakeHook as a deployment with C360_TARGET=snowflake
reaches Snowflake) as on DuckDB, and must give on-call the same page, report and summary.

The same rows are written once per target through include.warehouse's Db, with the writers' own DDL
(the gate's audit.dq_gate_results and audit.dq_cluster_sizes, the alerts' audit.alerts)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, is_dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest

from include.oncall.delivery import ALERTS_DDL
from include.oncall.investigation import InvestigationError, investigate, run_investigation
from include.orchestration import run_local
from include.quality.report import RESULTS_DDL
from include.warehouse import connect_warehouse
from include.warehouse.db import Db
from include.warehouse.emulator import Emulator
from tests.conftest import PROJECT_ROOT
from tests.plugins.test_profile_graph import HOSTILE_PROFILE, add_hostile_profile
from tests.unit.oncall.test_investigation import LINKS

# The review page's package is imported as the API server imports plugins: from the plugins folder.
sys.path.insert(0, str(PROJECT_ROOT / "plugins"))
from c360_review.page import render
from c360_review.queries import load

CLEAN, BROKEN = "scheduled__2026-11-19T06:00:00+00:00", "manual__2026-11-20T10:00:00+00:00"
LARGEST = "stitching:largest_cluster_ids"
THRESHOLDS = {"stitching": {"largest_cluster_ids": {"warn": 4, "fail": 5}}}

PROFILES = {"anna": "a" * 32, "ben": "a" * 32, "anna-laptop": "a" * 32, "tablet": "a" * 32, "ben-phone": "a" * 32,
            "carl": "c" * 32, "carl-phone": "c" * 32}
# run, check, layer, status, observed, threshold, detail, checked_at, baseline, baseline run
GATE_ROWS = [
    (CLEAN, LARGEST, "stitching", "pass", 3.0, "warn > 4, fail > 5", "", datetime(2026, 11, 19, 7, 0, 5), None, None),
    (CLEAN, "rows:raw.orders", "raw", "pass", 40.0, "> 0", "", datetime(2026, 11, 19, 7, 0, 5), None, None),
    (CLEAN, "rejected_share:orders", "load", "pass", 0.0, "warn > 1%, fail > 5%", "0 of 40 rows",
     datetime(2026, 11, 19, 7, 0, 6), None, None),
    (BROKEN, LARGEST, "stitching", "fail", 7.0, "warn > 4, fail > 5", "profile " + "a" * 32,
     datetime(2026, 11, 20, 11, 2, 1), 3.0, CLEAN),
    (BROKEN, "rows:raw.orders", "raw", "pass", 42.0, "> 0", "", datetime(2026, 11, 20, 11, 2, 1), 40.0, CLEAN),
    (BROKEN, "rejected_share:orders", "load", "warn", 0.0238, "warn > 1%, fail > 5%", "1 of 42 rows (2.4%)",
     datetime(2026, 11, 20, 11, 2, 2), 0.0, CLEAN),
    (BROKEN, "freshness:orders", "staging", "pass", None, "< 48 h", "no rows: skipped",
     datetime(2026, 11, 20, 11, 2, 2), None, None),
]
CLUSTER_SIZES = [(CLEAN, 1, 1, 1, datetime(2026, 11, 19, 7, 0, 5)), (CLEAN, 2, 2, 1, datetime(2026, 11, 19, 7, 0, 5)),
                 (BROKEN, 2, 2, 1, datetime(2026, 11, 20, 11, 2, 1)),
                 (BROKEN, 5, 8, 1, datetime(2026, 11, 20, 11, 2, 1))]
ALERTS = [
    ("al-1", "task_failed", "customer_360", BROKEN, datetime(2026, 11, 20, 10), "quality", "dq_gate", 1, 1,
     "GateFailed: 1 check failed", "http://localhost:8080/log",
     json.dumps([{"check_name": LARGEST, "observed_value": 7.0, "threshold": "warn > 4, fail > 5"}]),
     "trigger stitching_investigation", "log,smtp", datetime(2026, 11, 20, 11, 2, 3)),
    ("al-2", "dag_failed", "customer_360", BROKEN, datetime(2026, 11, 20, 10), None, None, None, None,
     None, None, None, "read the gate log", "log", datetime(2026, 11, 20, 11, 2, 4)),
]


def build(db: Db) -> None:
    """The rows every reader here reads, in SQL both targets accept."""
    db.script([
        *RESULTS_DDL, *ALERTS_DDL, "create schema if not exists stitching", "create schema if not exists staging",
        "create schema if not exists raw",
        "create table staging.stg_rudderstack__identifies (source_sdk varchar, event_id varchar, event_at timestamp, "
        "anonymous_id varchar, user_id varchar, landed_file_name varchar, landed_row_number bigint)",
        "create table stitching.user_id_stitcher (user_main_id varchar, other_id varchar, other_id_type varchar)",
        "create table stitching.excluded_ids (other_id varchar, other_id_type varchar, reason varchar, detail varchar)",
        "create table raw.orders (order_id varchar)",
    ])
    db.execute_many("insert into staging.stg_rudderstack__identifies values (?, ?, ?, ?, ?, 'part-0.csv', ?)",
                    [(sdk, f"e{i}", datetime(2026, 10, 1 + i, 8, 30), anon, user, i)
                     for i, (anon, user, sdk) in enumerate(LINKS)])
    db.execute_many("insert into stitching.user_id_stitcher values (?, ?, ?)",
                    [(m, i, "user_id" if i in ("anna", "ben", "carl") else "anonymous_id") for i, m in PROFILES.items()]
                    + [("d" * 32, "dual", "user_id"), ("e" * 32, "dual", "anonymous_id")])
    db.execute("insert into stitching.excluded_ids values (?, ?, ?, ?)",
                ("kiosk-1", "anonymous_id", "super_connector", "linked to 40 user_ids (max 5)"))
    db.execute_many("insert into raw.orders values (?)", [(f"o{i}",) for i in range(3)])
    db.execute_many("insert into audit.dq_gate_results (run_id, check_name, layer, status, observed_value, threshold, "
                    "detail, checked_at, baseline_value, baseline_run_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    GATE_ROWS)
    db.execute_many("insert into audit.dq_cluster_sizes values (?, ?, ?, ?, ?)", CLUSTER_SIZES)
    db.execute_many(f"insert into audit.alerts values ({', '.join('?' * len(ALERTS[0]))})", ALERTS)


@dataclass
class Warehouses:
    duckdb_path: Path
    emulator: Emulator
    unused_duckdb: Path  # where a Snowflake deployment's C360_DUCKDB_PATH points: must stay absent


@contextlib.contextmanager
def on(target: str, w: Warehouses, database: str | None = None) -> Iterator[None]:
    """The environment of a deployment of that target."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("C360_TARGET", "C360_SNOWFLAKE_CONN_ID", "AIRFLOW_CONN_SNOWFLAKE_DEFAULT"):
            mp.delenv(name, raising=False)
        if target == "snowflake":
            mp.setenv("C360_TARGET", "snowflake")
            mp.setenv("C360_DUCKDB_PATH", str(w.unused_duckdb))
            connection = w.emulator.connection()
            if database:
                connection["extra"]["database"] = database
            mp.setenv("AIRFLOW_CONN_SNOWFLAKE_DEFAULT", json.dumps(connection))
        else:
            mp.setenv("C360_DUCKDB_PATH", str(w.duckdb_path))
        yield


@pytest.fixture(scope="module")
def warehouses(snowflake_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    tmp = tmp_path_factory.mktemp("readers")
    emulator = replace(snowflake_emulator, database="c360_readers")  # a database of the module's own
    w = Warehouses(tmp / "warehouse.duckdb", emulator, tmp / "unused" / "warehouse.duckdb")
    for target in ("duckdb", "snowflake"):
        with on(target, w), connect_warehouse() as db:
            build(db)
    return w


def both(w: Warehouses, read):
    """What read() returns on DuckDB and on Snowflake."""
    results = []
    for target in ("duckdb", "snowflake"):
        with on(target, w):
            results.append(read())
    return results


def typed(value):
    """value with the type of every leaf: 5 == 5.0 == Decimal(5) would hide what the page prints."""
    if is_dataclass(value):
        return type(value).__name__, typed(vars(value))
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [typed(v) for v in value]
    return type(value).__name__, value


def test_the_review_page_shows_the_same_on_both_targets(warehouses: Warehouses) -> None:
    for run_id in (None, CLEAN):
        on_duckdb, on_snowflake = both(warehouses, lambda run_id=run_id: load(run_id))
        assert typed(on_snowflake) == typed(on_duckdb)
        assert render(on_snowflake, "/c360-review/", THRESHOLDS, "w") == render(on_duckdb, "/c360-review/",
                                                                              THRESHOLDS, "w")
    with on("snowflake", warehouses):
        data = load()
    assert data.missing == []
    assert [(r.run_id, r.verdict, r.passed, r.warned, r.failed, r.largest_cluster) for r in data.runs] == [
        (BROKEN, "fail", 2, 1, 1, 7.0), (CLEAN, "pass", 3, 0, 0, 3.0)]
    assert data.runs[0].checked_at == datetime(2026, 11, 20, 11, 2, 2)
    assert data.selected_run == BROKEN
    assert [(c["status"], c["check_name"]) for c in data.checks] == [
        ("fail", LARGEST), ("warn", "rejected_share:orders"), ("pass", "freshness:orders"), ("pass", "rows:raw.orders")]
    assert data.checks[0]["baseline_run_id"] == CLEAN and data.checks[2]["observed_value"] is None
    assert data.cluster_sizes == [(2, 2, 1), (5, 8, 1)]
    assert data.largest_trend == [(CLEAN, 3.0), (BROKEN, 7.0)]
    assert [a["kind"] for a in data.alerts] == ["dag_failed", "task_failed"]
    assert data.alerts[1]["failing_checks"][0]["check_name"] == LARGEST and data.alerts[0]["failing_checks"] == []
    assert not warehouses.unused_duckdb.exists()


def test_the_review_page_lists_what_is_not_built_yet_on_snowflake(warehouses: Warehouses) -> None:
    with on("snowflake", warehouses, database="c360_empty"):
        data = load()
    assert data.missing == ["audit.dq_gate_results", "audit.alerts", "audit.dq_cluster_sizes"]
    assert data.runs == [] and data.selected_run is None


@pytest.mark.parametrize("request_", [
    {"id_value": "anna", "id_type": "user_id", "thresholds": {"stitch_max_user_ids_per_anonymous_id": 5}},
    {"user_main_id": "c" * 32},
])
def test_the_investigation_reports_the_same_on_both_targets(warehouses: Warehouses, request_: dict) -> None:
    def report() -> tuple:
        with connect_warehouse() as db:
            r = investigate(db, **request_)
        return r.user_main_id, r.members, r.events, r.bridges, r.suggested_fix, r.markdown()

    on_duckdb, on_snowflake = both(warehouses, report)
    assert typed(on_snowflake) == typed(on_duckdb)
    if "id_value" in request_:
        assert on_snowflake[3][0].other_id == "tablet"
        assert "stitch_max_user_ids_per_anonymous_id from 5 to 1: that would exclude 1 anonymous_ids" in on_snowflake[4]
        assert on_snowflake[2][0][2] == datetime(2026, 10, 1, 8, 30)


@pytest.mark.parametrize(("request_", "message"), [
    ({"id_value": "nobody"}, "id 'nobody' is not in stitching.user_id_stitcher nor stitching.excluded_ids"),
    ({"id_value": "kiosk-1"}, "was kept out of the identity graph (anonymous_id: super_connector"),
    ({"id_value": "anna", "id_type": "anonymous_id"}, "anonymous_id 'anna' is not in"),
    ({"id_value": "dual"}, "id 'dual' exists as both user_id and anonymous_id: set id_type"),
    ({"user_main_id": "f" * 32}, "is not in stitching.user_id_stitcher"),
])
def test_the_investigation_explains_a_bad_request_the_same_on_both_targets(
        warehouses: Warehouses, request_: dict, message: str) -> None:
    def refusal() -> str:
        with connect_warehouse() as db, pytest.raises(InvestigationError) as err:
            investigate(db, **request_)
        return str(err.value)

    on_duckdb, on_snowflake = both(warehouses, refusal)
    assert on_snowflake == on_duckdb and message in on_snowflake


def test_the_investigation_task_records_the_same_report_on_both_targets(warehouses: Warehouses) -> None:
    run_id = "manual__2026-11-21T09:00:00+00:00"

    def task() -> tuple:
        returned = run_investigation({"id": "ben-phone", "id_type": "anonymous_id"}, run_id)
        with connect_warehouse() as db:
            recorded = db.dicts("select * from audit.stitching_investigations where investigation_run_id = ?",
                                (run_id,))
        for row in recorded:
            assert isinstance(row.pop("created_at"), datetime)
        return returned, recorded

    on_duckdb, on_snowflake = both(warehouses, task)
    assert typed(on_snowflake) == typed(on_duckdb)
    returned, recorded = on_snowflake
    assert returned["user_main_id"] == "a" * 32 and returned["ids"] == 5 and returned["bridge_ids"][0] == "tablet"
    assert len(recorded) == 1 and recorded[0]["ids"] == 5 and recorded[0]["user_ids"] == 2
    assert json.loads(recorded[0]["bridge_ids"])[0]["id"] == "tablet"
    assert not warehouses.unused_duckdb.exists()


def test_the_investigation_task_on_an_unbuilt_snowflake_says_to_run_the_dag(warehouses: Warehouses) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with on("snowflake", warehouses, database="c360_unbuilt"), pytest.raises(AirflowFailException) as err:
        run_investigation({"id": "anna"}, "manual__x")
    assert str(err.value) == ("Cannot investigate: stitching.user_id_stitcher does not exist: "
                              "run the customer_360 DAG first")
    assert not warehouses.unused_duckdb.exists()  # no empty DuckDB file left behind


def test_the_run_summary_is_the_same_on_both_targets(warehouses: Warehouses) -> None:
    on_duckdb, on_snowflake = both(warehouses, lambda: run_local.summary(BROKEN).splitlines())
    assert on_duckdb[0] == f"warehouse: {warehouses.duckdb_path}"
    assert on_snowflake[0] == "warehouse: Snowflake connection snowflake_default"
    assert on_snowflake[1:] == on_duckdb[1:]
    text = "\n".join(on_snowflake)
    assert "  raw.orders                       3" in text and "  audit.load_batches               missing" in text
    assert "  stitching.user_id_stitcher       9" in text
    assert f"gate verdict for {BROKEN}: FAIL" in text


@pytest.fixture(scope="module")
def graph_warehouses(snowflake_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    """build()'s rows plus what only the profile graph reads: stitching.stitch_bridge_ids, a link from a member
    to the excluded kiosk-1 and the hostile profile; in databases of their own, so the rows the other tests
    count stay as they are."""
    tmp = tmp_path_factory.mktemp("graph_readers")
    w = Warehouses(tmp / "warehouse.duckdb", replace(snowflake_emulator, database="c360_profile_graph"),
                   tmp / "unused" / "warehouse.duckdb")
    for target in ("duckdb", "snowflake"):
        with on(target, w), connect_warehouse() as db:
            build(db)
            db.execute("create table stitching.stitch_bridge_ids (other_id varchar, other_id_type varchar, "
                       "linked_ids bigint, is_excluded boolean, excluded_reason varchar, user_main_id varchar)")
            db.execute_many("insert into stitching.stitch_bridge_ids values (?, ?, ?, ?, ?, ?)",
                            [("tablet", "anonymous_id", 2, False, None, "a" * 32),
                             ("kiosk-1", "anonymous_id", 40, True, "super_connector", None)])
            db.execute("insert into staging.stg_rudderstack__identifies values ('js', 'e-kiosk', ?, 'kiosk-1', "
                       "'anna', 'part-1.csv', 1)", (datetime(2026, 10, 9, 8, 30),))
            add_hostile_profile(db)
    return w


@pytest.mark.parametrize(("user_main_id", "max_ids"), [
    ("a" * 32, 2_000), (HOSTILE_PROFILE, 2_000), ("a" * 32, 3), ("f" * 32, 2_000), ("not-an-id", 2_000)])
def test_the_profile_graph_is_the_same_on_both_targets(graph_warehouses: Warehouses, user_main_id: str,
                                                       max_ids: int) -> None:
    on_duckdb, on_snowflake = both(graph_warehouses,
                                   lambda: load(user_main_id=user_main_id, max_graph_ids=max_ids))
    assert typed(on_snowflake.profile) == typed(on_duckdb.profile)
    assert render(on_snowflake, "/c360-review/", THRESHOLDS, "w") == render(on_duckdb, "/c360-review/",
                                                                          THRESHOLDS, "w")
    view = on_snowflake.profile
    if user_main_id == "a" * 32 and max_ids > 5:
        assert [(i.other_id, i.bridge_links) for i in view.ids if i.bridge_links] == [("tablet", 2)]
        assert len(view.ids) == 5 and len(view.links) == 4
        assert [(e.other_id, e.reason, e.members) for e in view.excluded] == [
            ("kiosk-1", "super_connector", [("user_id", "anna")])]
    elif user_main_id == "a" * 32:
        assert view.too_large and [i.other_id for i in view.ids][:1] == ["tablet"] and len(view.ids) == 5
    elif user_main_id == HOSTILE_PROFILE:
        assert len(view.ids) == 3 and len(view.excluded) == 1 and not view.too_large
    else:
        assert view.message and not view.ids
    assert not graph_warehouses.unused_duckdb.exists()
