"""The DuckDB loader on real files: good rows load typed, bad rows are quarantined with a reason,
and every file reconciles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.contracts import load_sources
from include.loading import duckdb_loader
from include.loading.duckdb_loader import LoadError, load_source

ORDERS_HEADER = "order_id,user_id,status,ordered_at,revenue_usd,subtotal_usd,refund_amount_usd,coupon_code,channel"

BAD_ORDERS = "\n".join([
    ORDERS_HEADER,
    "o1,u1,completed,2026-01-01T10:00:00Z,10.50,9.00,,,web",          # 1 good
    "o2,u2,completed,2026-01-02 10:00:00+02:00,20,18,0,SAVE10,app",  # 2 good, offset -> UTC
    "o3,u3,completed,2026-01-03",                                     # 3 wrong column count
    "o4,u4,completed,not-a-time,10,9,,,web",                          # 4 unparsable timestamp
    "o5,u5,completed,2026-01-05,ten,9,,,web",                         # 5 unparsable number
    "o6,,completed,2026-01-06,10,9,,,web",                            # 6 missing required value
    "o7,u7,shipped,2026-01-07,10,9,,,web",                            # 7 status not accepted
    '"o8","u8","completed","2026-01-08","10","9","","","quoted, with comma"',  # 8 good, quoted
]) + "\n"


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "part-1.csv").write_text(BAD_ORDERS)
    return tmp_path


@pytest.fixture()
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield connection
    connection.close()


def test_bad_rows_are_quarantined_with_reasons_and_counts_reconcile(landing: Path, con) -> None:
    results = load_source(con, load_sources()["orders"], landing, "run-1")

    assert [(r.rows_read, r.rows_loaded, r.rows_rejected) for r in results] == [(8, 3, 5)]
    loaded = con.execute("select order_id, ordered_at::varchar, revenue_usd, channel from raw.orders "
                         "order by order_id").fetchall()
    assert loaded == [
        ("o1", "2026-01-01 10:00:00", pytest.approx(10.5), "web"),
        ("o2", "2026-01-02 08:00:00", pytest.approx(20), "app"),
        ("o8", "2026-01-08 00:00:00", pytest.approx(10), "quoted, with comma"),
    ]
    # Record numbers count the records the parser rejected (row 3) and the ones the checks did.
    assert con.execute("select _row_number from raw.orders order by 1").fetchall() == [(1,), (2,), (8,)]
    rejected = dict(con.execute("select row_number, reason from audit.rejected_rows order by 1").fetchall())
    assert set(rejected) == {3, 4, 5, 6, 7}
    assert "MISSING COLUMNS" in rejected[3]
    assert "unparsable timestamp in ordered_at: not-a-time" in rejected[4]
    assert "unparsable decimal(18,2) in revenue_usd: ten" in rejected[5]
    assert "missing required value in user_id" in rejected[6]
    assert "status not in accepted values: shipped" in rejected[7]
    raw_records = dict(con.execute("select row_number, raw_record from audit.rejected_rows").fetchall())
    assert raw_records[3] == "o3,u3,completed,2026-01-03"
    assert '"ordered_at":"not-a-time"' in raw_records[4]
    batch = con.execute("select rows_read, rows_loaded, rows_rejected from audit.load_batches").fetchall()
    assert batch == [(8, 3, 5)]


def test_reload_is_idempotent(landing: Path, con) -> None:
    source = load_sources()["orders"]
    load_source(con, source, landing, "run-1")
    first = con.execute("select * exclude (_loaded_at, _run_id) from raw.orders order by order_id").fetchall()
    load_source(con, source, landing, "run-1")
    assert con.execute("select * exclude (_loaded_at, _run_id) from raw.orders order by order_id").fetchall() == first
    assert con.execute("select count(*) from audit.load_batches").fetchone()[0] == 1
    assert con.execute("select count(*) from audit.rejected_rows").fetchone()[0] == 5


def test_conflicting_duplicate_key_keeps_last_file_and_quarantines_the_other(landing: Path, con) -> None:
    (landing / "orders" / "part-2.csv").write_text(
        ORDERS_HEADER + "\no1,u1,refunded,2026-01-01T10:00:00Z,10.50,9.00,10.50,,web\n"
        + "o2,u2,completed,2026-01-02 10:00:00+02:00,20,18,0,SAVE10,app\n"  # exact duplicate: kept
    )
    results = {r.file_name: r for r in load_source(con, load_sources()["orders"], landing, "run-1")}
    assert con.execute("select status from raw.orders where order_id = 'o1'").fetchall() == [("refunded",)]
    assert con.execute("select count(*) from raw.orders where order_id = 'o2'").fetchone()[0] == 2
    reason = con.execute("select reason from audit.rejected_rows where row_number = 1").fetchone()[0]
    assert "conflicting duplicate of primary key order_id=o1" in reason and "part-2.csv" in reason
    for r in results.values():
        assert r.rows_read == r.rows_loaded + r.rows_rejected


def test_parquet_with_a_wrongly_typed_column(tmp_path: Path, con) -> None:
    (tmp_path / "order_items").mkdir()
    table = pa.table({
        "order_item_id": ["i1", "i2", "i3"],
        "order_id": ["o1", "o1", "o2"],
        "product_id": ["p1", "p2", "p1"],
        "design_id": ["d1", None, "d2"],
        "quantity": ["1", "lots", "0"],  # text where an integer belongs
        "unit_price_usd": [9.99, 5.0, 1.0],
    })
    pq.write_table(table, tmp_path / "order_items" / "items.parquet")
    [result] = load_source(con, load_sources()["order_items"], tmp_path, "run-1")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    reasons = dict(con.execute("select row_number, reason from audit.rejected_rows").fetchall())
    assert "unparsable integer in quantity: lots" in reasons[2]
    assert "quantity below minimum 1: 0" in reasons[3]


def test_missing_directory_fails_naming_the_source(tmp_path: Path, con) -> None:
    with pytest.raises(LoadError, match=r"source 'designs'.*does not exist"):
        load_source(con, load_sources()["designs"], tmp_path, "run-1")


def test_missing_required_column_fails_naming_source_file_and_column(landing: Path, con) -> None:
    (landing / "orders" / "part-1.csv").write_text("order_id,status\no1,completed\n")
    with pytest.raises(LoadError, match=r"source 'orders': file 'part-1.csv' lacks required column\(s\) user_id"):
        load_source(con, load_sources()["orders"], landing, "run-1")
    # The failed load left nothing half-written.
    assert con.execute("select count(*) from information_schema.tables where table_name = 'orders'").fetchone()[0] == 0


def test_row_numbers_follow_the_file_through_a_parallel_read(tmp_path: Path, con, monkeypatch) -> None:
    """A CSV that DuckDB reads in parallel, with unparsable records in the middle: every kept row's
    _row_number is its record's number in the file (here also its order_item_id). DuckDB reads a
    buffer of at least max_line_size per thread; a 1 MB limit makes this 20 MB file parallel."""
    scan = duckdb_loader.CSV_SCAN.replace(str(duckdb_loader.MAX_LINE_SIZE), str(2**20))
    monkeypatch.setattr(duckdb_loader, "CSV_SCAN", scan)
    folder = tmp_path / "order_items"
    folder.mkdir()
    bad = {400_001, 750_000}
    with duckdb.connect() as gen:
        gen.execute(f"""copy (select case when i in {tuple(bad)} then i::varchar || ',too,short'
                                          else i::varchar || ',o' || i // 3 || ',p1,,1,9.99' end as line
                              from range(1, 1_000_001) t(i))
                        to '{folder / "a.csv"}' (header false, quote '', delimiter '\t')""")
    text = (folder / "a.csv").read_text()
    (folder / "a.csv").write_text("order_item_id,order_id,product_id,design_id,quantity,unit_price_usd\n" + text)

    [result] = load_source(con, load_sources()["order_items"], tmp_path, "run-1")

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (1_000_000, 999_998, 2)
    assert con.execute("select count(*) from raw.order_items "
                       "where _row_number <> order_item_id::bigint").fetchone()[0] == 0
    assert {r[0] for r in con.execute("select row_number from audit.rejected_rows").fetchall()} == bad


def test_utc_timestamps_in_every_shape(tmp_path: Path, con) -> None:
    """The same instant written as UTC ('Z', '+00'), with another offset, without one, and as a Parquet
    timestamp: one value in raw."""
    (tmp_path / "orders").mkdir()
    shapes = ["2026-01-01T10:00:00Z", "2026-01-01 10:00:00+00", "2026-01-01 12:00:00+02:00",
              "2026-01-01T05:00:00-05:00", "2026-01-01 10:00:00", " 2026-01-01T10:00:00Z"]
    (tmp_path / "orders" / "a.csv").write_text("\n".join(
        ["order_id,user_id,status,ordered_at,revenue_usd,subtotal_usd,refund_amount_usd,coupon_code"]
        + [f"t{i},u1,completed,{shape},1,1,," for i, shape in enumerate(shapes)]) + "\n")
    pq.write_table(pa.table({
        "order_id": ["p1"], "user_id": ["u1"], "status": ["completed"],
        "ordered_at": pa.array([datetime(2026, 1, 1, 10, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        "revenue_usd": [1.0], "subtotal_usd": [1.0], "refund_amount_usd": [None], "coupon_code": [None],
    }), tmp_path / "orders" / "b.parquet")
    load_source(con, load_sources()["orders"], tmp_path, "run-1")
    got = con.execute("select ordered_at::varchar from raw.orders").fetchall()
    assert got == [("2026-01-01 10:00:00",)] * 7
