"""Incremental loads (include/loading/batches.py) on both targets: the DuckDB loader on a DuckDB file and
the Snowflake loader on the emulator, each test on a database of its own (tests/unit/loading/conftest.py).

A run reads only new or changed landing files; a changed file replaces its own raw and rejected rows;
a vanished file keeps its rows and is reported; a full refresh reads everything; a conflict that
reaches an unchanged file's rows reads the source again. Every test ends by checking the audit:
every batch reconciles, and the current batches account for exactly the rows the tables hold.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from include.contracts import load_sources
from include.loading import duckdb_loader
from include.loading import snowflake_loader as sl
from include.loading.rules import FileResult
from include.quality.checks import check_sources
from include.quality.run_facts import Baseline, RunFacts
from include.warehouse import connect_warehouse
from include.warehouse.db import Db
from tests.unit.loading.test_loader import ORDERS_HEADER

ORDERS = load_sources()["orders"]
BATCHES = ("select run_id, file_name, rows_read, rows_loaded, rows_rejected, file_size, content_sha256, load_action, "
           "is_current, missing_since_run_id from audit.load_batches order by file_name, run_id")
RAW = "select order_id, status, _file_name, _row_number, _run_id from raw.orders order by _file_name, _row_number"
REJECTED = "select file_name, row_number, reason, run_id from audit.rejected_rows order by file_name, row_number"


def order(order_id: str, status: str = "completed") -> str:
    """An orders record; a status outside the accepted values makes it a rejected one."""
    return f"{order_id},u-{order_id},{status},2026-01-01T10:00:00Z,10,9,,,web"


def write(landing: Path, name: str, *records: str) -> Path:
    path = landing / "orders" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([ORDERS_HEADER, *records]) + "\n")
    return path


def _plain(value: Any) -> Any:
    """Snowflake returns numbers as Decimal, DuckDB as int: compare them as Python numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@dataclass
class Target:
    name: str
    db: Db
    loader: Callable[[Path, str, bool], list[FileResult]]

    def load(self, landing: Path, run_id: str, full_refresh: bool = False) -> list[FileResult]:
        return self.loader(landing, run_id, full_refresh)

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(_plain(v) for v in row) for row in self.db.rows(sql)]

    def state(self) -> dict[str, list[tuple]]:
        """Everything a load writes, raw rows with their run and load time."""
        return {"raw": self.rows("select * from raw.orders order by _file_name, _row_number"),
                "rejected": self.rows("select * from audit.rejected_rows order by file_name, row_number"),
                "batches": self.rows("select * from audit.load_batches order by file_name, run_id")}


def _open_duckdb(tmp_path: Path) -> Iterator[Target]:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        yield Target("duckdb", Db(con, "duckdb"), lambda landing, run_id, full_refresh: duckdb_loader.load_source(
            con, ORDERS, landing, run_id, full_refresh=full_refresh))


def _open_snowflake() -> Iterator[Target]:
    with connect_warehouse() as db:  # the deployment's warehouse: the emulator, a database of the test's own
        yield Target("snowflake", db, lambda landing, run_id, full_refresh: sl.load_source_snowflake(
            ORDERS, landing, run_id, full_refresh=full_refresh))


@pytest.fixture(params=["duckdb", "snowflake"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "snowflake":
        request.getfixturevalue("snowflake_target")
        yield from _open_snowflake()
    else:
        yield from _open_duckdb(tmp_path)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


def assert_audit_accounts_for_the_tables(target: Target) -> None:
    """Every batch reconciles; the current batch of each file counts exactly the rows of that file in
    raw.orders and audit.rejected_rows, and no row belongs to a file without one."""
    batches = target.rows("select file_name, rows_read, rows_loaded, rows_rejected from audit.load_batches")
    assert batches and all(read == loaded + rejected for _, read, loaded, rejected in batches), batches
    current = target.rows("select file_name, rows_loaded, rows_rejected from audit.load_batches "
                          "where is_current order by file_name")
    assert len({f for f, *_ in current}) == len(current), current  # one current batch per file
    raw = dict(target.rows("select _file_name, count(*) from raw.orders group by _file_name"))
    rejected = dict(target.rows("select file_name, count(*) from audit.rejected_rows group by file_name"))
    assert [(f, raw.get(f, 0), rejected.get(f, 0)) for f, *_ in current] == current
    assert set(raw) | set(rejected) <= {f for f, *_ in current}


def read_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make reading a file's records fail on both targets: what a run may still do is stat and hash."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a file was read: {args[1:3]}")

    for module, name in ((duckdb_loader, "_load_file"), (duckdb_loader, "_quarantine_file"), (sl, "frame")):
        monkeypatch.setattr(module, name, refuse)


# --- a run reads only what is new ---------------------------------------------------------------------------


def test_a_second_run_with_the_same_files_reads_nothing_and_changes_nothing(
        target: Target, landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(landing, "a.csv", order("o1"), order("o2", "shipped"))
    write(landing, "b.csv", order("o3"))
    first = target.load(landing, "run-1")
    assert [(r.file_name, r.load_action) for r in first] == [("a.csv", "loaded"), ("b.csv", "loaded")]
    before = target.state()

    read_nothing(monkeypatch)
    assert target.load(landing, "run-2") == []

    assert target.state() == before  # raw rows keep their run and load time; no batch for run-2
    assert_audit_accounts_for_the_tables(target)


def test_a_new_file_is_appended(target: Target, landing: Path) -> None:
    write(landing, "a.csv", order("o1"), order("o2", "shipped"))
    target.load(landing, "run-1")
    write(landing, "b.csv", order("o3"), order("o4", "shipped"))

    [result] = target.load(landing, "run-2")

    assert (result.file_name, result.load_action, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "b.csv", "loaded", 2, 1, 1)
    assert target.rows(RAW) == [("o1", "completed", "a.csv", 1, "run-1"), ("o3", "completed", "b.csv", 1, "run-2")]
    assert [(f, n, run) for f, n, _, run in target.rows(REJECTED)] == [("a.csv", 2, "run-1"), ("b.csv", 2, "run-2")]
    assert [(run, f, action, current) for run, f, *_, action, current, _ in target.rows(BATCHES)] == [
        ("run-1", "a.csv", "loaded", True), ("run-2", "b.csv", "loaded", True)]
    assert_audit_accounts_for_the_tables(target)


def test_a_changed_file_replaces_its_raw_and_rejected_rows_and_no_others(target: Target, landing: Path) -> None:
    a = write(landing, "a.csv", order("o1"), order("o2", "shipped"), order("o3"))
    write(landing, "b.csv", order("o4"), order("o5", "shipped"))
    target.load(landing, "run-1")
    size_before = a.stat().st_size
    write(landing, "a.csv", order("o1", "refunded"), order("o6"), order("o7", "bogus"))  # o2, o3 gone

    [result] = target.load(landing, "run-2")

    assert (result.file_name, result.load_action, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "a.csv", "replaced", 3, 2, 1)
    assert target.rows(RAW) == [
        ("o1", "refunded", "a.csv", 1, "run-2"), ("o6", "completed", "a.csv", 2, "run-2"),
        ("o4", "completed", "b.csv", 1, "run-1"),
    ]
    assert [(f, n, run) for f, n, _, run in target.rows(REJECTED)] == [("a.csv", 3, "run-2"), ("b.csv", 2, "run-1")]
    batches = target.rows(BATCHES)
    assert [(run, f, read, action, current) for run, f, read, _, _, _, _, action, current, _ in batches] == [
        ("run-1", "a.csv", 3, "loaded", False), ("run-2", "a.csv", 3, "replaced", True),
        ("run-1", "b.csv", 2, "loaded", True)]
    assert batches[0][5] == size_before and batches[1][5] == a.stat().st_size
    assert batches[0][6] != batches[1][6] and len(batches[1][6]) == 64  # the SHA-256 of each content
    assert_audit_accounts_for_the_tables(target)


def test_a_file_rewritten_with_the_same_bytes_is_unchanged(target: Target, landing: Path) -> None:
    a = write(landing, "a.csv", order("o1"))
    target.load(landing, "run-1")
    a.write_bytes(a.read_bytes())  # touched: new mtime, same content

    assert target.load(landing, "run-2") == []
    assert target.rows(RAW) == [("o1", "completed", "a.csv", 1, "run-1")]


def test_full_refresh_reads_every_file_again(target: Target, landing: Path) -> None:
    write(landing, "a.csv", order("o1"), order("o2", "shipped"))
    write(landing, "b.csv", order("o3"))
    target.load(landing, "run-1")

    results = target.load(landing, "run-2", full_refresh=True)

    assert [(r.file_name, r.load_action, r.rows_read, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("a.csv", "reloaded", 2, 1, 1), ("b.csv", "reloaded", 1, 1, 0)]
    assert target.rows(RAW) == [("o1", "completed", "a.csv", 1, "run-2"), ("o3", "completed", "b.csv", 1, "run-2")]
    assert [(f, n, run) for f, n, _, run in target.rows(REJECTED)] == [("a.csv", 2, "run-2")]
    assert [(run, f, current) for run, f, *_, current, _ in target.rows(BATCHES)] == [
        ("run-1", "a.csv", False), ("run-2", "a.csv", True), ("run-1", "b.csv", False), ("run-2", "b.csv", True)]
    assert_audit_accounts_for_the_tables(target)


# --- a vanished file ------------------------------------------------------------------------------------------


def test_a_vanished_file_keeps_its_rows_and_is_reported(target: Target, landing: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    a = write(landing, "a.csv", order("o1"), order("o2", "shipped"))
    write(landing, "b.csv", order("o3"))
    target.load(landing, "run-1")
    kept = landing.parent / "a.csv.kept"
    shutil.move(a, kept)

    with caplog.at_level(logging.WARNING):
        assert target.load(landing, "run-2") == []
    assert "source orders: a.csv is gone from the landing directory; its rows stay" in caplog.text
    assert target.rows(RAW) == [("o1", "completed", "a.csv", 1, "run-1"), ("o3", "completed", "b.csv", 1, "run-1")]
    assert [(f, n) for f, n, *_ in target.rows(REJECTED)] == [("a.csv", 2)]
    missing = "select file_name, missing_since_run_id from audit.load_batches where is_current order by 1"
    assert target.rows(missing) == [("a.csv", "run-2"), ("b.csv", None)]

    target.load(landing, "run-3")  # still gone: the first run that missed it stays recorded
    assert target.rows(missing) == [("a.csv", "run-2"), ("b.csv", None)]
    shutil.move(kept, a)  # back, unchanged: nothing to read, nothing missing
    assert target.load(landing, "run-4") == []
    assert target.rows(missing) == [("a.csv", None), ("b.csv", None)]
    assert_audit_accounts_for_the_tables(target)


def test_full_refresh_drops_the_rows_of_a_vanished_file(target: Target, landing: Path) -> None:
    a = write(landing, "a.csv", order("o1"), order("o2", "shipped"))
    write(landing, "b.csv", order("o3"))
    target.load(landing, "run-1")
    a.unlink()

    [result] = target.load(landing, "run-2", full_refresh=True)

    assert (result.file_name, result.load_action) == ("b.csv", "reloaded")
    assert target.rows(RAW) == [("o3", "completed", "b.csv", 1, "run-2")]
    assert target.rows(REJECTED) == []
    assert target.rows("select file_name, run_id from audit.load_batches where is_current") == [("b.csv", "run-2")]
    assert_audit_accounts_for_the_tables(target)


# --- primary-key conflicts across files ---------------------------------------------------------------------


def _outcome(target: Target) -> tuple[list[tuple], list[tuple]]:
    """Raw rows and rejected rows without the run that wrote them: what a full load must also give."""
    return ([r[:4] for r in target.rows(RAW)], [r[:3] for r in target.rows(REJECTED)])


def test_a_new_file_winning_a_key_of_an_unchanged_file_reads_the_source_again(target: Target, landing: Path) -> None:
    write(landing, "a.csv", order("o1"), order("o2"))
    target.load(landing, "run-1")
    write(landing, "b.csv", order("o1", "refunded"))  # last file wins: a.csv's o1 must go to the rejected rows

    results = target.load(landing, "run-2")

    assert [(r.file_name, r.load_action, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("a.csv", "reloaded", 1, 1), ("b.csv", "loaded", 1, 0)]
    incremental = _outcome(target)
    assert incremental == (
        [("o2", "completed", "a.csv", 2), ("o1", "refunded", "b.csv", 1)],
        [("a.csv", 1, "conflicting duplicate of primary key order_id=o1 (kept b.csv row 1)")])
    assert_audit_accounts_for_the_tables(target)
    target.load(landing, "run-3", full_refresh=True)
    assert _outcome(target) == incremental


def test_a_changed_file_that_no_longer_wins_a_key_brings_the_other_row_back(target: Target, landing: Path) -> None:
    write(landing, "a.csv", order("o1"), order("o2"))
    write(landing, "b.csv", order("o1", "refunded"))
    target.load(landing, "run-1")
    assert [r[:2] for r in target.rows(REJECTED)] == [("a.csv", 1)]
    write(landing, "b.csv", order("o3"))  # o1 is a.csv's alone now

    results = target.load(landing, "run-2")

    assert [(r.file_name, r.load_action) for r in results] == [("a.csv", "reloaded"), ("b.csv", "replaced")]
    incremental = _outcome(target)
    assert incremental == (
        [("o1", "completed", "a.csv", 1), ("o2", "completed", "a.csv", 2), ("o3", "completed", "b.csv", 1)], [])
    assert_audit_accounts_for_the_tables(target)
    target.load(landing, "run-3", full_refresh=True)
    assert _outcome(target) == incremental


def test_a_new_file_losing_a_key_to_an_unchanged_file_is_read_alone(target: Target, landing: Path) -> None:
    write(landing, "b.csv", order("o1", "refunded"))
    target.load(landing, "run-1")
    write(landing, "a.csv", order("o1"), order("o2"))  # sorts first: b.csv's o1 stays the winner

    results = target.load(landing, "run-2")

    assert [(r.file_name, r.load_action, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("a.csv", "loaded", 1, 1)]
    assert target.rows(REJECTED) == [
        ("a.csv", 1, "conflicting duplicate of primary key order_id=o1 (kept b.csv row 1)", "run-2")]
    assert [r[2:] for r in target.rows(RAW)] == [("a.csv", 2, "run-2"), ("b.csv", 1, "run-1")]
    assert_audit_accounts_for_the_tables(target)


def test_a_conflict_with_a_vanished_files_row_rejects_only_rows_read(target: Target, landing: Path) -> None:
    """A vanished file's rows are no longer re-decided: its row stays beside the newer one (staging
    keeps the latest landed), and its batch still accounts for it."""
    a = write(landing, "a.csv", order("o1"))
    target.load(landing, "run-1")
    a.unlink()
    write(landing, "b.csv", order("o1", "refunded"))

    results = target.load(landing, "run-2")

    assert [(r.file_name, r.load_action, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("b.csv", "loaded", 1, 0)]
    assert target.rows(RAW) == [("o1", "completed", "a.csv", 1, "run-1"), ("o1", "refunded", "b.csv", 1, "run-2")]
    assert target.rows(REJECTED) == []
    assert_audit_accounts_for_the_tables(target)


# --- one transaction per source; older warehouses; the gate -------------------------------------------------


def test_a_load_failing_half_way_leaves_the_source_as_it_was(target: Target, landing: Path) -> None:
    write(landing, "a.csv", order("o1"), order("o2", "shipped"))
    write(landing, "b.csv", order("o3"))
    target.load(landing, "run-1")
    before = target.state()
    write(landing, "a.csv", order("o1", "refunded"))
    write(landing, "c.csv", order("o4"))

    def killed(*args: Any) -> tuple:
        raise RuntimeError("killed after the raw rows were replaced")

    # The batch rows are the last thing written in the transaction (after raw and rejected rows).
    with pytest.MonkeyPatch.context() as patch, pytest.raises(RuntimeError, match="killed"):
        for module in (duckdb_loader, sl):
            patch.setattr(module, "batch_row", killed)
        target.load(landing, "run-2")
    assert target.state() == before

    results = target.load(landing, "run-2")  # the retry
    assert [(r.file_name, r.load_action) for r in results] == [("a.csv", "replaced"), ("c.csv", "loaded")]
    assert_audit_accounts_for_the_tables(target)


def test_batches_from_before_incremental_loads_make_one_whole_load(target: Target, landing: Path) -> None:
    write(landing, "a.csv", order("o1"))
    write(landing, "b.csv", order("o2"))
    target.load(landing, "run-1")
    # What adding the columns to an older warehouse's audit.load_batches leaves: nulls.
    target.db.execute("update audit.load_batches set file_size = null, content_sha256 = null, load_action = null, "
                      "is_current = null")
    (landing / "orders" / "b.csv").unlink()  # gone before the first incremental run: as the old reload did, drop it

    [result] = target.load(landing, "run-2")

    assert (result.file_name, result.load_action) == ("a.csv", "loaded")
    assert target.rows(RAW) == [("o1", "completed", "a.csv", 1, "run-2")]
    assert target.rows("select run_id, file_name, is_current from audit.load_batches order by run_id, file_name") == [
        ("run-1", "a.csv", False), ("run-1", "b.csv", False), ("run-2", "a.csv", True)]
    assert target.load(landing, "run-3") == []  # incremental from now on
    assert_audit_accounts_for_the_tables(target)


@pytest.mark.parametrize("change", ["drop table raw.orders", "alter table raw.orders drop column coupon_code"])
def test_a_raw_table_gone_or_without_a_contract_column_is_loaded_whole(change: str, target: Target,
                                                                       landing: Path) -> None:
    write(landing, "a.csv", order("o1"))
    target.load(landing, "run-1")
    target.db.execute(change)  # e.g. a contract column added since the raw table was built

    [result] = target.load(landing, "run-2")

    assert (result.file_name, result.load_action) == ("a.csv", "reloaded")
    assert target.rows("select order_id, coupon_code, _run_id from raw.orders") == [("o1", None, "run-2")]
    assert_audit_accounts_for_the_tables(target)


def test_the_gate_reconciles_the_files_a_run_read_and_passes_a_run_that_read_none(target: Target,
                                                                                  landing: Path) -> None:
    def source_checks(run_id: str) -> dict[str, tuple[str, str]]:
        facts = RunFacts(run_id, datetime.now(UTC), "test", Baseline())
        return {c.check_name: (c.status, c.detail) for c in check_sources(target.db, facts, {})}

    write(landing, "a.csv", order("o1"), order("o2", "shipped"))
    target.load(landing, "run-1")
    write(landing, "b.csv", order("o3"))
    target.load(landing, "run-2")
    assert source_checks("run-2")["reconcile:orders"] == ("pass", "1 files: read 1 = loaded 1 + rejected 0")

    target.load(landing, "run-3")
    [(status, detail)] = source_checks("run-3").values()
    assert status == "pass" and detail.startswith("no new or changed landing file in this run"), detail


def test_both_targets_record_the_same_batches(landing: Path, tmp_path: Path, snowflake_target: Any) -> None:
    """The same landing history on both targets gives the same audit.load_batches (but loaded_at)."""
    on = {}
    for opened in (_open_duckdb(tmp_path), _open_snowflake()):
        target = next(opened)
        shutil.rmtree(landing, ignore_errors=True)
        write(landing, "a.csv", order("o1"), order("o2", "shipped"))
        write(landing, "b.csv", order("o3"))
        target.load(landing, "run-1")
        write(landing, "a.csv", order("o1", "refunded"))
        write(landing, "c.csv", order("o4"), "o5,u5,completed,2026-01-03")  # a record the parser rejects
        (landing / "orders" / "b.csv").unlink()
        target.load(landing, "run-2")
        target.load(landing, "run-3")
        target.load(landing, "run-4", full_refresh=True)
        on[target.name] = (target.rows(BATCHES), _outcome(target))
        opened.close()
    assert on["snowflake"] == on["duckdb"]
    assert [(run, f, action, current) for run, f, *_, action, current, _ in on["duckdb"][0]] == [
        ("run-1", "a.csv", "loaded", False), ("run-2", "a.csv", "replaced", False),
        ("run-4", "a.csv", "reloaded", True), ("run-1", "b.csv", "loaded", False),
        ("run-2", "c.csv", "loaded", False), ("run-4", "c.csv", "reloaded", True)]
