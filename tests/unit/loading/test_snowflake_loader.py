"""The Snowflake loader against the Snowflake emulator (fakesnow's HTTP server): the production code,
statement for statement (PUT, COPY, the checks, the publishing transaction), through the product's
hook - no stand-in lander, no test-only branch.

Every class of the bad-input catalogue goes through both loaders on the same files and must land the
same: per-file counts, audit rows, rejected rows with their reasons, and the loaded values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.contracts import Source, load_sources
from include.loading import duckdb_loader
from include.loading import snowflake_loader as sl
from include.loading.rules import LoadError
from include.quality.checks import check_sources
from include.quality.run_facts import Baseline, RunFacts
from include.warehouse import connect_warehouse
from tests.support.bad_input_cases import CATALOGUE, Case, write_case
from tests.unit.loading.test_loader import BAD_ORDERS, ORDERS_HEADER

SOURCES = load_sources()


def _orders(tmp_path: Path, *files: tuple[str, str]) -> Path:
    (tmp_path / "orders").mkdir()
    for name, text in files:
        (tmp_path / "orders" / name).write_text(text)
    return tmp_path


def _write(case: Case, landing: Path) -> None:
    folder = write_case(case, landing)
    if case.key == "parquet_wrong_type":  # as tests/unit/loading/test_bad_input.py writes it
        pq.write_table(pa.table({
            "order_item_id": ["i1", "i2"], "order_id": ["o1", "o1"], "product_id": ["p1", "p2"],
            "design_id": [None, None], "quantity": ["2", "two"], "unit_price_usd": [1.5, 2.5],
        }), folder / "a.parquet")


# --- what each loader left behind, in the same shape ----------------------------------------------------


def _record(value: Any) -> Any:
    """A rejected row's raw record: the JSON object of a contract reject compares as an object (the
    databases format JSON differently), anything else (a parser's line, a file's head) as text."""
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return value
    return parsed if isinstance(parsed, dict) else value


def _duckdb_landed(con: duckdb.DuckDBPyConnection, source: Source, run_id: str) -> dict:
    raw = f"raw.{duckdb_loader.q(source.name)}"
    extras = [c for c, in con.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
        "order by ordinal_position", [source.name]).fetchall()
        if c not in source.column_names and not c.startswith("_")]
    names = [*source.column_names, *extras]
    return {
        "batches": con.execute("select file_name, rows_read, rows_loaded, rows_rejected from audit.load_batches "
                               "where run_id = ? order by file_name", [run_id]).fetchall(),
        "rejected": [(f, n, r, _record(raw_)) for f, n, r, raw_ in con.execute(
            "select file_name, row_number, reason, raw_record from audit.rejected_rows where run_id = ? "
            "order by file_name, row_number", [run_id]).fetchall()],
        "columns": names,
        "rows": con.execute(f"select {', '.join(duckdb_loader.q(n) for n in names)}, _file_name, _row_number "
                            f"from {raw} order by _file_name, _row_number").fetchall(),
    }


def _snowflake_landed(cur: Any, source: Source, run_id: str, names: list[str]) -> dict:
    def rows(sql: str, params: tuple = ()) -> list[tuple]:
        cur.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()]

    return {
        "batches": [(f, int(a), int(b), int(c)) for f, a, b, c in rows(
            "select file_name, rows_read, rows_loaded, rows_rejected from audit.load_batches "
            "where run_id = %s order by file_name", (run_id,))],
        "rejected": [(f, int(n), r, _record(raw_)) for f, n, r, raw_ in rows(
            "select file_name, row_number, reason, raw_record from audit.rejected_rows where run_id = %s "
            "order by file_name, row_number", (run_id,))],
        "columns": names,
        "rows": [(*r[:-1], int(r[-1])) for r in rows(
            f"select {', '.join(sl.q(n) for n in names)}, _file_name, _row_number from raw.{source.name} "
            "order by _file_name, _row_number")],
    }


def _load_both(landing: Path, source: Source, run_id: str, cur: Any, duck: Path) -> tuple[dict, dict, list, list]:
    """The source loaded from the same files by the DuckDB loader and by the Snowflake loader (through
    the product's hook, as the DAG's load task calls it)."""
    with duckdb.connect(str(duck)) as con:
        duck_results = duckdb_loader.load_source(con, source, landing, run_id)
        on_duckdb = _duckdb_landed(con, source, run_id)
    sf_results = sl.load_source_snowflake(source, landing, run_id)
    return on_duckdb, _snowflake_landed(cur, source, run_id, on_duckdb["columns"]), duck_results, sf_results


# --- (a) the whole bad-input catalogue lands as on DuckDB ------------------------------------------------


# A few classes run in make test-quick; the whole catalogue (about 75 s on the emulator) in make test.
QUICK_CASES = {"wrong_column_count", "non_utf8", "quoted_separators", "unparsable_timestamp"}


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.key, marks=() if c.key in QUICK_CASES else pytest.mark.slow) for c in CATALOGUE])
def test_bad_input_lands_as_on_duckdb(case: Case, tmp_path: Path, snowflake_cursor) -> None:
    landing = tmp_path / "landing"
    _write(case, landing)
    source, run_id = SOURCES[case.source], f"catalogue-{case.key}"

    if case.key == "missing_required_column":
        with pytest.raises(LoadError) as on_duckdb:
            duckdb_loader.load_source(duckdb.connect(str(tmp_path / "w.duckdb")), source, landing, run_id)
        with pytest.raises(LoadError) as on_snowflake:
            sl.load_source_snowflake(source, landing, run_id)
        assert str(on_snowflake.value) == str(on_duckdb.value)
        assert "'orders'" in str(on_snowflake.value) and "'a.csv'" in str(on_snowflake.value)
        for statement in sl.AUDIT_DDL:
            snowflake_cursor.execute(statement)
        snowflake_cursor.execute("select count(*) from audit.load_batches where run_id = %s", (run_id,))
        assert snowflake_cursor.fetchone() == (0,)  # nothing of the source was written
        return

    on_duckdb, on_snowflake, duck_results, sf_results = _load_both(
        landing, source, run_id, snowflake_cursor, tmp_path / "w.duckdb")

    assert sf_results == duck_results
    assert on_snowflake["batches"] == on_duckdb["batches"]
    assert all(read == loaded + rejected for _, read, loaded, rejected in on_snowflake["batches"])
    assert on_snowflake["rejected"] == on_duckdb["rejected"]
    assert on_snowflake["rows"] == on_duckdb["rows"]


# --- (b) a record lost between the file and the table fails the gate -------------------------------------


def _facts(run_id: str) -> RunFacts:
    return RunFacts(run_id, datetime.now(UTC), "test", Baseline())


def _reconcile(run_id: str, source: str) -> Any:
    with connect_warehouse() as db:  # the gate's own way to the deployment's warehouse
        return next(c for c in check_sources(db, _facts(run_id), {}) if c.check_name == f"reconcile:{source}")


def test_a_record_dropped_after_copy_fails_the_reconcile_check(tmp_path: Path, snowflake_target,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    landing = _orders(tmp_path, ("part-1.csv", BAD_ORDERS))
    source = SOURCES["orders"]

    sl.load_source_snowflake(source, landing, "reconciles")
    assert _reconcile("reconciles", "orders").status == "pass"

    land = sl.land

    def land_and_lose_a_record(cur: Any, source: Source, framed: sl.Framed, table: str, stage_dir: str) -> None:
        land(cur, source, framed, table, stage_dir)
        cur.execute(f"delete from {table} where _row_number = 1")  # e.g. a faulty COPY or transformation

    monkeypatch.setattr(sl, "land", land_and_lose_a_record)
    # A full refresh: loads are incremental, and an unchanged file is not read (nor landed) again.
    [result] = sl.load_source_snowflake(source, landing, "loses-a-record", full_refresh=True)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (8, 2, 5)
    check = _reconcile("loses-a-record", "orders")
    assert check.status == "fail"
    assert check.detail == "1 of 1 files do not reconcile (read 8, loaded 2, rejected 5)"


def test_a_copy_that_loads_fewer_records_than_framed_fails_naming_source_and_file(
        tmp_path: Path, snowflake_cursor, monkeypatch: pytest.MonkeyPatch) -> None:
    landing = _orders(tmp_path, ("part-1.csv", BAD_ORDERS))
    frame = sl.frame

    def frame_one_more(con: duckdb.DuckDBPyConnection, path: Path, work: Path) -> sl.Framed:
        framed = frame(con, path, work)
        framed.parsed += 1  # the file held a record the warehouse did not get
        return framed

    monkeypatch.setattr(sl, "frame", frame_one_more)
    with pytest.raises(LoadError, match=r"source 'orders': file 'part-1\.csv': COPY into _land_0 did not load "
                                        r"the 8 records framed from the file"):
        sl.load_source_snowflake(SOURCES["orders"], landing, "short-copy")
    snowflake_cursor.execute("select count(*) from audit.load_batches where run_id = 'short-copy'")
    assert snowflake_cursor.fetchone() == (0,)


# --- (c) loaded values equal the DuckDB loader's ------------------------------------------------------------


def test_loaded_values_equal_duckdbs(tmp_path: Path, snowflake_cursor) -> None:
    landing = tmp_path / "landing"
    orders = landing / "orders"
    orders.mkdir(parents=True)
    (orders / "a.csv").write_text("\n".join([
        ORDERS_HEADER + ',Odd Name,"we""ird"',
        "o1,u1,completed,2026-01-01T12:00:00+02:00,10.5,9,,,web,x,y",
        "o2,u2,COMPLETED ,2026-01-01 12:00:00,0.01,-3.25,,SAVE10,app,,",
        'o\\3,"u""3",refunded,2026-01-01T00:30:00-05:30, 20 ,12345678901234.99,20,"a\'b\\c",,é,😀',
        "o4,u4,completed,1970-01-01T00:00:00Z,1.005,1,0.5,,web,,",
    ]) + "\n")
    pq.write_table(pa.table({
        "order_id": ["p1", "p2"], "user_id": ["u\\1", "u'2"], "status": ["completed", "completed"],
        "ordered_at": pa.array([datetime(2026, 3, 1, 8, 0, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
        "revenue_usd": [1.5, 2.25], "subtotal_usd": [1.0, 2.0], "refund_amount_usd": [None, 0.1],
        "coupon_code": [None, 'q"uote'], "extra_int": pa.array([7, None], pa.int64()),
    }), orders / "b.parquet")
    identifies = landing / "identifies_js"
    identifies.mkdir()
    (identifies / "a.csv").write_text("\n".join([
        "id,anonymous_id,user_id,timestamp,received_at,context_traits_email,context_library_name",
        'e1,"a\'1; drop table x;--",u%_\\1,2026-01-01T00:00:00.123+01:00,2026-01-01,"x@y, z",js',
        'e2,"\t ",\\N,2026-06-30 23:59:59.999999,2026-07-01T00:00:00Z,,"quote ""in"" it"',
    ]) + "\n")

    for name in ("orders", "identifies_js"):
        on_duckdb, on_snowflake, duck_results, sf_results = _load_both(
            landing, SOURCES[name], f"values-{name}", snowflake_cursor, tmp_path / f"{name}.duckdb")
        assert sf_results == duck_results
        assert on_snowflake["rejected"] == on_duckdb["rejected"]
        assert on_snowflake["rows"] == on_duckdb["rows"]

    snowflake_cursor.execute("select order_id, ordered_at, revenue_usd, \"Odd Name\", \"we\"\"ird\", extra_int "
                             "from raw.orders order by _file_name, _row_number")
    got = [(o, str(t), str(r), odd, weird, extra) for o, t, r, odd, weird, extra in snowflake_cursor.fetchall()]
    assert got == [
        ("o1", "2026-01-01 10:00:00", "10.50", "x", "y", None),
        ("o2", "2026-01-01 12:00:00", "0.01", None, None, None),
        ("o\\3", "2026-01-01 06:00:00", "20.00", "é", "😀", None),
        ("o4", "1970-01-01 00:00:00", "1.01", None, None, None),
        ("p1", "2026-03-01 08:00:00", "1.50", None, None, "7"),
    ]
    snowflake_cursor.execute("select file_name, row_number, reason from audit.rejected_rows "
                             "where run_id = 'values-orders'")
    assert snowflake_cursor.fetchall() == [("b.parquet", 2, "missing required value in ordered_at")]
    snowflake_cursor.execute("select anonymous_id, user_id from raw.identifies_js order by _row_number")
    assert snowflake_cursor.fetchall() == [("a'1; drop table x;--", "u%_\\1"), ("\t ", "\\N")]


# --- the loader's own behaviour on the emulator (as unit/loading/test_loader.py asserts it on DuckDB) ---


def test_bad_rows_are_quarantined_with_reasons_and_counts_reconcile(tmp_path: Path, snowflake_cursor) -> None:
    cur = snowflake_cursor
    landing = _orders(tmp_path, ("part-1.csv", BAD_ORDERS))

    results = sl.load_source_snowflake(SOURCES["orders"], landing, "run-1")

    assert [(r.rows_read, r.rows_loaded, r.rows_rejected) for r in results] == [(8, 3, 5)]
    cur.execute("select order_id, ordered_at, revenue_usd, channel from raw.orders order by order_id")
    loaded = [(o, str(t), float(r), c) for o, t, r, c in cur.fetchall()]
    assert loaded == [
        ("o1", "2026-01-01 10:00:00", 10.5, "web"),
        ("o2", "2026-01-02 08:00:00", 20.0, "app"),
        ("o8", "2026-01-08 00:00:00", 10.0, "quoted, with comma"),
    ]
    cur.execute("select row_number, reason, raw_record from audit.rejected_rows where run_id = 'run-1' order by 1")
    rejected = {n: (reason, record) for n, reason, record in cur.fetchall()}
    assert set(rejected) == {3, 4, 5, 6, 7}
    assert rejected[3] == ("MISSING COLUMNS: Expected Number of Columns: 9 Found: 4", "o3,u3,completed,2026-01-03")
    assert rejected[4][0] == "unparsable timestamp in ordered_at: not-a-time"
    assert rejected[5][0] == "unparsable decimal(18,2) in revenue_usd: ten"
    assert rejected[6][0] == "missing required value in user_id"
    assert rejected[7][0] == "status not in accepted values: shipped"
    assert json.loads(rejected[4][1])["order_id"] == "o4"
    cur.execute("select rows_read, rows_loaded, rows_rejected from audit.load_batches where source = 'orders'")
    assert cur.fetchall() == [(8, 3, 5)]


def test_conflicting_duplicates_last_file_wins_and_reload_replaces(tmp_path: Path, snowflake_cursor) -> None:
    cur = snowflake_cursor
    first = ORDERS_HEADER + "\no1,u1,completed,2026-01-01,10,9,,,web\no2,u2,completed,2026-01-01,5,5,,,web\n"
    second = ORDERS_HEADER + "\no1,u1,refunded,2026-01-01,10,9,10,,web\n"
    landing = _orders(tmp_path, ("a.csv", first), ("b.csv", second))

    # run-2 reloads the same files (loads are incremental: only a full refresh reads them again); it
    # replaces, never doubles.
    for run, full_refresh in (("run-1", False), ("run-2", True)):
        results = sl.load_source_snowflake(SOURCES["orders"], landing, run, full_refresh=full_refresh)

    assert {(r.file_name, r.rows_read, r.rows_loaded, r.rows_rejected, r.load_action) for r in results} == {
        ("a.csv", 2, 1, 1, "reloaded"), ("b.csv", 1, 1, 0, "reloaded")}
    cur.execute("select order_id, status, _run_id from raw.orders order by 1")
    assert cur.fetchall() == [("o1", "refunded", "run-2"), ("o2", "completed", "run-2")]
    cur.execute("select file_name, reason from audit.rejected_rows where source = 'orders'")
    assert cur.fetchall() == [("a.csv", "conflicting duplicate of primary key order_id=o1 (kept b.csv row 1)")]
    cur.execute("select count(*), sum(rows_read - rows_loaded - rows_rejected) from audit.load_batches "
                "where source = 'orders' and is_current")
    assert tuple(int(n) for n in cur.fetchone()) == (2, 0)


def test_parquet_unreadable_and_empty_files_are_accounted(tmp_path: Path, snowflake_cursor) -> None:
    landing = _orders(tmp_path, ("c.json", "{}"), ("d.csv", ""), ("e.parquet", "not parquet"))
    pq.write_table(pa.table({
        "order_id": ["p1", "p2"], "user_id": ["u1", "u2"], "status": ["completed", "COMPLETED "],
        "ordered_at": ["2026-01-01T00:00:00Z", "2026-01-02"], "revenue_usd": [1.5, 2.0],
        "subtotal_usd": [1.0, 2.0], "refund_amount_usd": [None, None], "coupon_code": [None, "X"],
    }), landing / "orders" / "b.parquet")

    results = sl.load_source_snowflake(SOURCES["orders"], landing, "run-1")

    counts = {r.file_name: (r.rows_read, r.rows_loaded, r.rows_rejected) for r in results}
    assert counts == {"b.parquet": (2, 2, 0), "c.json": (1, 0, 1), "d.csv": (0, 0, 0), "e.parquet": (1, 0, 1)}
    snowflake_cursor.execute("select file_name, row_number, reason from audit.rejected_rows "
                             "where source = 'orders' order by 1")
    rows = snowflake_cursor.fetchall()
    assert rows[0][:2] == ("c.json", 0) and "unsupported file type .json" in rows[0][2]
    assert rows[1][:2] == ("e.parquet", 0) and "not a readable Parquet file" in rows[1][2]


# --- generated SQL -----------------------------------------------------------------------------------------


def test_put_and_copy_ship_parquet_by_field_name_and_abort_on_any_error(tmp_path: Path) -> None:
    local = tmp_path / "it's.parquet"
    assert sl.put_sql(local, "c360_landing/orders-1") == (
        f"put 'file://{str(local.resolve()).replace(chr(39), chr(39) * 2)}' @c360_landing/orders-1 "
        "auto_compress = false overwrite = true")
    copy = sl.copy_sql("_land_0", ['"ORDER_ID"', '"we""ird"', "_row_number"], "c360_landing/orders-1/x.parquet",
                       [("c1", "varchar"), ("c2", "varchar"), ("_row_number", "number")])
    assert copy == ('copy into _land_0 ("ORDER_ID", "we""ird", _row_number) from (select $1:"c1"::varchar, '
                    '$1:"c2"::varchar, $1:"_row_number"::number from @c360_landing/orders-1/x.parquet) '
                    "file_format = (type = parquet) on_error = abort_statement")


def test_identifiers_and_literals_are_quoted_for_snowflake() -> None:
    assert sl.q("order_id") == '"ORDER_ID"'
    assert sl.q("Odd Name") == '"Odd Name"'
    assert sl.literal("a'b\\c") == "'a''b\\\\c'"
    assert sl.joined_reasons([]) == "cast(null as varchar)"
