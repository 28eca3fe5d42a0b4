"""The gate, alerts and investigation on real customer_360 runs (Airflow, Cosmos, dbt, DuckDB).

One warehouse serves every test here and the review-page test: a clean run first (it must pass every
check and becomes the baseline), then a run on data built to break three checks, with an SMTP server
on loopback configured as the alert notifier, then investigation runs on the same warehouse.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DagRunResult, airflow_env, fresh_airflow_home, run_airflow, run_dag

pytestmark = pytest.mark.slow

SHARED_DEVICE = "shared-device-7f3a"
BRIDGED_USERS = ("bridge-user-anna", "bridge-user-ben")
OVERSTITCHED_USERS = 5_001  # a binary tree of user_ids joined by anonymous_ids, depth 13
OVERSTITCHED_IDS = 2 * OVERSTITCHED_USERS  # user i and its anonymous_id i, for every i in 1..5,001
EXPECTED_FAILS = {"stitching:largest_cluster_ids", "rejected_share:identifies_ruby", "features:negative_revenue"}


@dataclass
class GateRuns:
    warehouse: Path
    env: dict[str, str]
    clean: DagRunResult
    broken: DagRunResult
    mails: list[Message] = field(default_factory=list)
    published_after_clean: dict[str, tuple] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _append(path: Path, rows: list[list[str]]) -> None:
    # The generator's dialect: "\n" line ends, every value quoted (a mixed file trips DuckDB's sniffer).
    with path.open("a", newline="", encoding="utf-8") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def _event(n: int, anon: str, user: str, sdk: str, day: int = 20) -> list[str]:
    at = f"2026-10-{day:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
    return [f"break-{sdk}-{n:06d}", anon, user, at, at, "", "test"]


def build_broken_landing(source: Path, dest: Path) -> Path:
    """The clean landing data plus: an over-stitched graph (identifies_js), a shared device joining two
    people (both SDKs), 5 % unparsable rows in identifies_ruby, and one negative order revenue."""
    shutil.copytree(source, dest)
    js, ruby = dest / "identifies_js" / "part-00000.csv", dest / "identifies_ruby" / "part-00000.csv"
    tree = []
    for i in range(2, OVERSTITCHED_USERS + 1):  # anon i joins user i to its parent user i // 2
        tree += [_event(2 * i, f"tree-anon-{i}", f"tree-user-{i}", "js"),
                 _event(2 * i + 1, f"tree-anon-{i}", f"tree-user-{i // 2}", "js")]
    tree.append(_event(1, "tree-anon-1", "tree-user-1", "js"))
    _append(js, tree)
    anna, ben = BRIDGED_USERS
    # event numbers above the tree's, so no event id repeats (the loader would quarantine a repeat)
    _append(js, [_event(900_001, "anna-laptop", anna, "js", 3), _event(900_002, SHARED_DEVICE, anna, "js", 5)])
    _append(ruby, [_event(900_003, "ben-phone", ben, "ruby", 4), _event(900_004, SHARED_DEVICE, ben, "ruby", 6)])
    good = sum(1 for _ in ruby.open(encoding="utf-8")) - 1
    bad = math.ceil(good * 0.05 / 0.95)
    _append(ruby, [[f"bad-ruby-{n}", f"a-{n}", f"u-{n}", "not a timestamp", "2026-10-20T00:00:00Z", "", "test"]
                   for n in range(bad)])
    orders = dest / "orders" / "part-00000.csv"
    lines = orders.read_text(encoding="utf-8").split("\n")
    # Edit one value in place (no field of an order holds a comma), keeping the file's quoting.
    first_completed = next(i for i, line in enumerate(lines) if ',"completed",' in line)
    fields = lines[first_completed].split(",")
    fields[4] = "-25.00"  # revenue_usd
    lines[first_completed] = ",".join(fields)
    orders.write_text("\n".join(lines), encoding="utf-8")
    return dest


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


def _smtp_connection(port: int) -> str:
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                       "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@c360.test",
                                 "to": "oncall@c360.test", "timeout": 10, "retry_limit": 0}})


def _build(airflow_home: Path, small_landing: Path, tmp: Path) -> GateRuns:
    from aiosmtpd.controller import Controller

    warehouse = tmp / "warehouse.duckdb"
    inbox, port = _Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = airflow_env(airflow_home, warehouse, AIRFLOW_CONN_C360_ALERTS_SMTP=_smtp_connection(port))
        started = time.monotonic()
        clean = run_dag(env, {"source_dir": str(small_landing)})
        print(f"\nclean customer_360 run: {time.monotonic() - started:.0f} s")
        published_after_clean = published_hashes(warehouse)
        broken_landing = build_broken_landing(small_landing, tmp / "broken_landing")
        started = time.monotonic()
        broken = run_dag(env, {"source_dir": str(broken_landing)})
        print(f"broken customer_360 run: {time.monotonic() - started:.0f} s")
    finally:
        controller.stop()
    return GateRuns(warehouse, env, clean, broken, inbox.mails, published_after_clean)


def gate_runs_for(request: pytest.FixtureRequest) -> GateRuns:
    """The two runs, made once per session: the review-page test reads the same warehouse. Cached on
    the pytest config because a test module may be imported under two names."""
    cached = getattr(request.config, "_c360_gate_runs", None)
    if cached is None:
        tmp = request.getfixturevalue("tmp_path_factory").mktemp("gate_runs")
        cached = _build(request.getfixturevalue("airflow_home"), request.getfixturevalue("small_landing"), tmp)
        request.config._c360_gate_runs = cached
    return cached


@pytest.fixture(scope="module")
def gate_runs(request: pytest.FixtureRequest) -> GateRuns:
    return gate_runs_for(request)


# Columns that name the run, invocation or time that wrote a row: two runs on the same data differ only there.
VOLATILE = re.compile(r"(run_id|_at|dbt_invocation_id)$")


def published_hashes(warehouse: Path) -> dict[str, tuple]:
    """A content hash of every relation readers see under the published layers' names, leaving out the
    columns that name the writing run or its time."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for schema, table, column in con.execute(
                "select table_schema, table_name, column_name from information_schema.columns "
                "where table_schema in ('stitching', 'marts', 'analytics') order by ordinal_position").fetchall():
            columns.setdefault(f"{schema}.{table}", [])
            if not VOLATILE.search(column):
                columns[f"{schema}.{table}"].append(f'"{column}"')
        # Row count and a sum of row hashes: independent of row order, sensitive to every row.
        return {name: con.execute(f"select count(*), sum(hash(({', '.join(cols) or 'null'}))) from {name}")
                .fetchone() for name, cols in sorted(columns.items())}


def asset_events(airflow_home: Path, run_id: str) -> dict[str, dict]:
    """Asset name -> the extra of the event the run's publish emitted, from the metadata DB."""
    with sqlite3.connect(airflow_home / "airflow.db") as con:
        rows = con.execute("select a.name, e.extra from asset_event e join asset a on a.id = e.asset_id "
                           "where e.source_dag_id = 'customer_360' and e.source_run_id = ?", (run_id,)).fetchall()
    return {name: json.loads(extra) for name, extra in rows}


def gate_rows(warehouse: Path, run_id: str) -> dict[str, tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r[0]: r[1:] for r in con.execute(
            "select check_name, status, observed_value, threshold, detail from audit.dq_gate_results "
            "where run_id = $r", {"r": run_id}).fetchall()}


def test_a_clean_run_passes_every_check(gate_runs: GateRuns) -> None:
    assert gate_runs.clean.state == "success", gate_runs.clean.output[-6000:]
    rows = gate_rows(gate_runs.warehouse, gate_runs.clean.run_id)
    not_passing = {k: v for k, v in rows.items() if v[0] != "pass"}
    assert rows and not not_passing, not_passing
    assert "freshness:identifies" in rows and "stitching:largest_cluster_ids" in rows
    assert rows["shadow_rebuild"][3] == "not requested (param shadow_rebuild off)"
    assert "param shadow_rebuild is off" in gate_runs.clean.output


def test_a_run_on_broken_data_fails_exactly_the_broken_checks(gate_runs: GateRuns) -> None:
    broken = gate_runs.broken
    assert broken.state == "failed"
    failed_tasks = {t: s for t, s in broken.task_states.items() if s != "success"}
    assert failed_tasks == {"dq_gate": "failed", "publish": "upstream_failed"}, failed_tasks
    rows = gate_rows(gate_runs.warehouse, broken.run_id)
    assert {k for k, v in rows.items() if v[0] == "fail"} == EXPECTED_FAILS
    assert rows["stitching:largest_cluster_ids"][1] > 10_000
    assert 0.04 < rows["rejected_share:identifies_ruby"][1] < 0.06
    assert rows["features:negative_revenue"][1] >= 1
    # the log ends with the check table
    assert "dq_gate" in broken.output and "stitching:largest_cluster_ids" in broken.output


def test_a_failed_gate_leaves_readers_on_the_clean_run(gate_runs: GateRuns) -> None:
    published = published_hashes(gate_runs.warehouse)
    assert {"stitching.user_id_stitcher", "stitching.excluded_ids", "marts.with_user_id"} <= set(published)
    assert published == gate_runs.published_after_clean
    with duckdb.connect(str(gate_runs.warehouse), read_only=True) as con:
        builds = con.execute("select run_id, colour, published_at is not null from audit.builds "
                             "order by started_at").fetchall()
        # The rejected build is there, out of readers' sight: the giant profile the gate refused.
        largest = con.execute("select max(id_count) from stitching__green.int_profile_sizes").fetchone()[0]
        published_largest = con.execute("select max(id_count) from stitching.int_profile_sizes").fetchone()[0]
    assert builds == [(gate_runs.clean.run_id, "blue", True), (gate_runs.broken.run_id, "green", False)]
    assert largest > 10_000 > published_largest


def test_each_build_colour_keeps_its_own_partial_parse(gate_runs: GateRuns, airflow_home: Path) -> None:
    # The clean run built blue, the broken one green, in one Airflow home: a run of either colour
    # next starts from a parse made with its colour (cosmos_patches.cache_per_build_colour).
    cache = airflow_home / "cosmos_cache" / "customer_360"
    for colour in ("blue", "green"):
        assert (cache / colour / "target" / "partial_parse.msgpack").is_file(), colour


@pytest.fixture(scope="module")
def recovered(gate_runs: GateRuns, small_landing: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[DagRunResult, Path]:
    """A third run after the refused one, on the clean data again, in a copy of the warehouse: it builds
    the colour the refused run left behind, whose incremental models hold the refused rows. The clean
    data alone are the published build's inputs (that run would build nothing): a new landing file
    without rows makes it build, changing no row."""
    tmp = tmp_path_factory.mktemp("recovered")
    warehouse = tmp / "warehouse.duckdb"
    for suffix in ("", ".wal"):
        if Path(f"{gate_runs.warehouse}{suffix}").exists():
            shutil.copy2(f"{gate_runs.warehouse}{suffix}", f"{warehouse}{suffix}")
    landing = shutil.copytree(small_landing, tmp / "landing")
    header = (landing / "designs" / "part-00000.csv").read_text(encoding="utf-8").splitlines()[0]
    (landing / "designs" / "part-00099.csv").write_text(header + "\n", encoding="utf-8")
    env = airflow_env(fresh_airflow_home(tmp / "airflow"), warehouse)
    # With the shadow full rebuild: the build made from the refused build's state must equal one from scratch.
    started = time.monotonic()
    result = run_dag(env, {"source_dir": str(landing), "shadow_rebuild": True})
    print(f"\nrecovered customer_360 run, with shadow_rebuild: {time.monotonic() - started:.0f} s")
    return result, warehouse


def test_the_run_after_a_refused_one_publishes_what_the_clean_run_did(
        gate_runs: GateRuns, recovered: tuple[DagRunResult, Path]) -> None:
    result, warehouse = recovered
    assert result.state == "success", result.output[-5000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        last = con.execute("select colour, published_at is not null from audit.builds "
                           "order by started_at desc limit 1").fetchone()
        renames = con.execute("select count(*) from stitching.user_main_id_changes").fetchone()[0]
    assert last == ("green", True)  # the refused run's colour, built again from its state
    # stitch_runs is the stitching loop's own log (each build's rounds and timings), not data.
    recovered_hashes, clean = published_hashes(warehouse), dict(gate_runs.published_after_clean)
    assert recovered_hashes.pop("stitching.stitch_runs") and clean.pop("stitching.stitch_runs")
    assert recovered_hashes == clean
    assert renames == 0  # the same graph as the one published before: no profile changed


SHADOW_ROWS = ("select relation, build_rows, shadow_rows, only_in_build, only_in_shadow, detail from "
               "audit.shadow_rebuilds where run_id = ? order by relation")


def shadow_schemas(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [s for (s,) in con.execute("select schema_name from information_schema.schemata "
                                      "where suffix(schema_name, '__shadow') order by 1").fetchall()]


def test_the_shadow_rebuild_finds_the_build_from_refused_state_equal_to_a_full_rebuild(
        recovered: tuple[DagRunResult, Path]) -> None:
    result, warehouse = recovered
    assert result.task_states["shadow_rebuild"] == "success", result.output[-5000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(SHADOW_ROWS, [result.run_id]).fetchall()
        gate = con.execute("select status, detail from audit.dq_gate_results where run_id = ? "
                           "and check_name = 'shadow_rebuild'", [result.run_id]).fetchone()
        left = shadow_schemas(con)
    relations = {r[0] for r in rows}
    assert {"stitching.user_id_stitcher", "marts.fct_order_items", "marts.fct_identify_events",
            "analytics.kpi_summary"} <= relations
    assert [r for r in rows if r[1] != r[2] or r[3] or r[4] or r[5]] == []
    assert gate == ("pass", f"all {len(rows)} relations equal a full rebuild")
    assert left == []  # equal: the shadow is dropped
    assert f"all {len(rows)} relations of the green build equal a full rebuild" in result.output


def run_values(airflow_home: Path, run_id: str, task_id: str) -> dict[str, str]:
    """The templates_dict a task of the run rendered (dbt_layers.RUN_ENV for shadow_rebuild)."""
    with sqlite3.connect(airflow_home / "airflow.db") as con:
        (fields,) = con.execute("select rendered_fields from rendered_task_instance_fields where dag_id = "
                                "'customer_360' and task_id = ? and run_id = ?", (task_id, run_id)).fetchone()
    return json.loads(fields)["templates_dict"]


def test_one_changed_row_of_the_build_fails_the_check_naming_its_relation(
        recovered: tuple[DagRunResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shadow rebuild again, in a copy of the recovered warehouse whose build has one order line
    changed: exactly that relation differs, the gate's check names it, and the shadow is kept."""
    from include.orchestration import tasks
    from include.publishing.shadow import recorded
    from include.quality.checks import check_shadow_rebuild
    from include.quality.run_facts import Baseline, RunFacts
    from include.warehouse import connect_warehouse

    result, source = recovered
    warehouse = tmp_path / "warehouse.duckdb"
    for suffix in ("", ".wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy2(f"{source}{suffix}", f"{warehouse}{suffix}")
    monkeypatch.setenv("C360_DUCKDB_PATH", str(warehouse))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts__green.fct_order_items set quantity = quantity + 1 "
                    "where order_item_id = (select min(order_item_id) from marts__green.fct_order_items)")
    env = run_values(source.parent / "airflow", result.run_id, "shadow_rebuild")
    outcome = tasks.shadow_rebuild(result.run_id, {"shadow_rebuild": True}, env)
    assert [d["relation"] for d in outcome["differing"]] == ["marts.fct_order_items"]
    with connect_warehouse(must_exist=True) as db:
        (differing,) = [d for d in recorded(db, result.run_id) if d.differs]
        summary, per_relation = check_shadow_rebuild(db, RunFacts(result.run_id, datetime.now(UTC), "test",
                                                                  Baseline(), True))
    assert (differing.relation, differing.only_in_build, differing.only_in_shadow) == ("marts.fct_order_items", 1, 1)
    assert differing.build_rows == differing.shadow_rows
    assert summary.status == "fail" and summary.detail.startswith(
        f"1 of {outcome['relations']} relations differ: marts.fct_order_items (build ")
    assert (per_relation.check_name, per_relation.status, per_relation.observed_value) == (
        "shadow_rebuild:marts.fct_order_items", "fail", 2.0)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert shadow_schemas(con) == ["analytics__shadow", "marts__shadow", "stitching__shadow"]  # kept for on-call


def test_a_run_with_nothing_new_reads_no_file_and_changes_no_contract_table(
        recovered: tuple[DagRunResult, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    first, warehouse = recovered
    assert first.state == "success", first.output[-5000:]
    before = published_hashes(warehouse)
    env = airflow_env(fresh_airflow_home(tmp_path_factory.mktemp("nothing_new") / "airflow"), warehouse)
    landing = warehouse.parent / "landing"
    result = run_dag(env, {"source_dir": str(landing)})

    assert result.state == "success", result.output[-5000:]
    assert result.task_states["plan_build"] == "success"  # a short circuit: it decided, the rest is skipped
    assert "nothing new since run " + first.run_id in result.output
    after = {task: state for task, state in result.task_states.items() if task.split(".")[0] not in (
        "prepare_sources", "load_sources", "plan_build")}
    assert after and set(after.values()) == {"skipped"}, after  # layers, gate, publish
    with duckdb.connect(str(warehouse), read_only=True) as con:
        read = con.execute("select count(*) from audit.load_batches where run_id = ?", [result.run_id]).fetchone()[0]
        built = con.execute("select count(*) from audit.builds where run_id = ?", [result.run_id]).fetchone()[0]
    assert (read, built) == (0, 0)
    assert published_hashes(warehouse) == before  # stitch_runs included: no build ran


def test_only_the_passing_run_announces_its_assets(gate_runs: GateRuns, airflow_home: Path) -> None:
    clean = asset_events(airflow_home, gate_runs.clean.run_id)
    assert set(clean) == {"c360.marts.with_user_id", "c360.stitching.user_id_stitcher", "c360.stitching.excluded_ids",
                          "c360.stitching.user_main_id_changes"}
    with duckdb.connect(str(gate_runs.warehouse), read_only=True) as con:
        features = con.execute("select count(*) from marts.with_user_id").fetchone()[0]
    assert clean["c360.marts.with_user_id"] == {"run_id": gate_runs.clean.run_id, "colour": "blue",
                                                "views": len(gate_runs.published_after_clean) - 1,
                                                "feature_rows": features, "gate_status": "pass"}
    assert asset_events(airflow_home, gate_runs.broken.run_id) == {}


def test_the_gate_failure_is_alerted_once_with_its_failing_checks(gate_runs: GateRuns) -> None:
    with duckdb.connect(str(gate_runs.warehouse), read_only=True) as con:
        alerts = con.execute(
            "select kind, layer, task_id, try_number, failing_checks, delivered_via, log_url, exception "
            "from audit.alerts where run_id = $r order by created_at", {"r": gate_runs.broken.run_id}).fetchall()
    kinds = [a[0] for a in alerts]
    assert kinds == ["task_failed", "run_failed"], alerts
    _kind, layer, task_id, try_number, checks, via, url, exception = alerts[0]
    assert (layer, task_id, try_number, via) == ("dq_gate", "dq_gate", 1, "smtp")
    assert {c["check_name"] for c in json.loads(checks)} == EXPECTED_FAILS
    assert f"/dags/customer_360/runs/{gate_runs.broken.run_id.replace(':', '%3A').replace('+', '%2B')}" in url
    assert "3 check(s) failed" in exception
    assert alerts[1][5].startswith("none")  # the run-level alert did not page a second time
    # the clean run raised nothing
    with duckdb.connect(str(gate_runs.warehouse), read_only=True) as con:
        assert not con.execute("select count(*) from audit.alerts where run_id = $r",
                               {"r": gate_runs.clean.run_id}).fetchone()[0]


def test_the_alert_mail_reaches_the_smtp_server_with_the_failing_checks(gate_runs: GateRuns) -> None:
    assert len(gate_runs.mails) == 1, [m["Subject"] for m in gate_runs.mails]
    mail = gate_runs.mails[0]
    assert mail["To"] == "oncall@c360.test"
    assert "dq_gate failed" in mail["Subject"] and gate_runs.broken.run_id in mail["Subject"]
    body = "".join(part.get_payload(decode=True).decode() for part in mail.walk()
                   if part.get_content_type() == "text/html")
    for check in EXPECTED_FAILS:
        assert check in body
    assert f"{OVERSTITCHED_IDS}" in body or f"{OVERSTITCHED_IDS:,}" in body


def _investigate(gate_runs: GateRuns, conf: dict) -> tuple[int, str, dict | None]:
    proc = run_airflow(gate_runs.env, "dags", "test", "stitching_investigation", "-c", json.dumps(conf))
    with duckdb.connect(str(gate_runs.warehouse), read_only=True) as con:
        tables = {t for (t,) in con.execute("select table_name from information_schema.tables").fetchall()}
        row = con.execute(
            "select requested, ids, bridge_ids, suggested_fix, report_markdown from audit.stitching_investigations "
            "order by created_at desc limit 1").fetchone() if "stitching_investigations" in tables else None
    names = ("requested", "ids", "bridge_ids", "suggested_fix", "markdown")
    report = dict(zip(names, row, strict=True)) if row else None
    return proc.returncode, proc.stdout + proc.stderr, report


def test_the_investigation_names_the_shared_device_as_the_bridge(gate_runs: GateRuns) -> None:
    code, output, report = _investigate(gate_runs, {"id": BRIDGED_USERS[0], "id_type": "user_id"})
    assert code == 0, output[-5000:]
    assert report is not None and report["requested"] == f"user_id {BRIDGED_USERS[0]}"
    assert report["ids"] == 5  # two people, their own devices and the shared one
    bridges = json.loads(report["bridge_ids"])
    assert bridges[0]["id"] == SHARED_DEVICE and bridges[0]["split_sizes"] == [2, 2]
    assert SHARED_DEVICE in report["suggested_fix"] and "stitch_exclusion_list.csv" in report["suggested_fix"]
    # both SDKs' source rows, in time order, are in the report and the log
    assert "| js |" in report["markdown"] and "| ruby |" in report["markdown"]
    assert "## Bridge ids" in output and SHARED_DEVICE in output


def test_an_unknown_id_gives_a_clear_message(gate_runs: GateRuns) -> None:
    code, output, _ = _investigate(gate_runs, {"id": "no-such-id-42"})
    assert code != 0 or "failed" in output
    assert "Cannot investigate: id 'no-such-id-42' is not in stitching.user_id_stitcher" in output


def test_an_invalid_request_is_refused_before_any_task_runs(gate_runs: GateRuns) -> None:
    proc = run_airflow(gate_runs.env, "dags", "test", "stitching_investigation", "-c",
                       json.dumps({"user_main_id": "not-an-md5"}))
    assert proc.returncode != 0
    assert "user_main_id" in proc.stdout + proc.stderr
