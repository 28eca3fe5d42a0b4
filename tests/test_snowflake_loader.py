"""The Snowflake loader: the SQL it generates for PUT / COPY / validation, its row recovery, and the
whole check-and-publish path on fakesnow with the same files and expectations as the DuckDB loader.

fakesnow has no stages, PUT or COPY, so `InsertLander` stands in for `StageLander`: it parses the file
in Python (RFC 4180, strict field count) and INSERTs what COPY would land; everything after landing
(contract checks, typing, duplicates, audit, the publishing transaction) is the production SQL.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import fakesnow
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.contracts import load_sources
from include.loading import snowflake_loader as sl
from include.loading.duckdb_loader import LoadError
from tests.test_loader import BAD_ORDERS, ORDERS_HEADER


class InsertLander:
    """What StageLander leaves behind, made with INSERTs: one text row per parsable record with its
    number in the file, and structural rejects in the rejects table."""

    def land(self, cur: Any, path: Path, header: list[str], table: str, rejects: str) -> None:
        cur.execute(sl.land_table_ddl(table, header))
        rows, rejected = self.parse(path, len(header))
        if rows:
            import pandas as pd
            from snowflake.connector.pandas_tools import write_pandas

            # write_pandas (patched by fakesnow) rather than INSERTs: fakesnow translates every
            # executemany row as its own statement, minutes for the dbt test's 20k rows.
            names = [sl.q(h)[1:-1] for h in header] + ["_ROW_NUMBER"]
            conn = cur._conn  # fakesnow cursors keep their connection here
            write_pandas(conn, pd.DataFrame(rows, columns=names, dtype=object), table.upper())
        sl.record_rejects(cur, table, rejects, path.name, rejected)

    @staticmethod
    def parse(path: Path, width: int) -> tuple[list[tuple], list[sl.Rejected]]:
        if path.suffix.lower() == ".parquet":
            table = pq.read_table(path)
            columns = [[None if v is None else str(v) for v in col.to_pylist()] for col in table.columns]
            return [(*values, i) for i, values in enumerate(zip(*columns, strict=True), start=1)], []
        text = path.read_bytes().decode("utf-8-sig")
        records = list(csv.reader(io.StringIO(text, newline="")))[1:]
        rows, rejected = [], []
        for number, record in enumerate(records, start=1):
            if len(record) != width:
                kind = "MISSING COLUMNS" if len(record) < width else "TOO MANY COLUMNS"
                rejected.append(sl.Rejected(number, f"parsing: {kind}", ",".join(record)))
            else:
                rows.append((*(v if v != "" else None for v in record), number))
        return rows, rejected


@pytest.fixture()
def cur():
    import snowflake.connector

    with fakesnow.patch():
        conn = snowflake.connector.connect(database="c360", schema="public")
        cursor = conn.cursor()
        yield cursor
        conn.close()


def _orders(tmp_path: Path, *files: tuple[str, str]) -> Path:
    (tmp_path / "orders").mkdir()
    for name, text in files:
        (tmp_path / "orders" / name).write_text(text)
    return tmp_path


def test_bad_rows_are_quarantined_with_reasons_and_counts_reconcile(tmp_path: Path, cur) -> None:
    landing = _orders(tmp_path, ("part-1.csv", BAD_ORDERS))

    results = sl.load_with_cursor(cur, load_sources()["orders"], landing, "run-1", InsertLander())

    assert [(r.rows_read, r.rows_loaded, r.rows_rejected) for r in results] == [(8, 3, 5)]
    cur.execute("select order_id, ordered_at, revenue_usd, channel from raw.orders order by order_id")
    loaded = [(o, str(t), float(r), c) for o, t, r, c in cur.fetchall()]
    assert loaded == [
        ("o1", "2026-01-01 10:00:00", 10.5, "web"),
        ("o2", "2026-01-02 08:00:00", 20.0, "app"),
        ("o8", "2026-01-08 00:00:00", 10.0, "quoted, with comma"),
    ]
    cur.execute("select row_number, reason, raw_record from audit.rejected_rows order by 1")
    rejected = {n: (reason, record) for n, reason, record in cur.fetchall()}
    assert set(rejected) == {3, 4, 5, 6, 7}
    assert "MISSING COLUMNS" in rejected[3][0]
    assert rejected[4][0] == "unparsable timestamp in ordered_at: not-a-time"
    assert rejected[5][0] == "unparsable decimal(18,2) in revenue_usd: ten"
    assert rejected[6][0] == "missing required value in user_id"
    assert rejected[7][0] == "status not in accepted values: shipped"
    assert '"order_id":"o4"' in rejected[4][1]
    cur.execute("select rows_read, rows_loaded, rows_rejected from audit.load_batches where source = 'orders'")
    assert cur.fetchall() == [(8, 3, 5)]


def test_conflicting_duplicates_last_file_wins_and_reload_replaces(tmp_path: Path, cur) -> None:
    first = ORDERS_HEADER + "\no1,u1,completed,2026-01-01,10,9,,,web\no2,u2,completed,2026-01-01,5,5,,,web\n"
    second = ORDERS_HEADER + "\no1,u1,refunded,2026-01-01,10,9,10,,web\n"
    landing = _orders(tmp_path, ("a.csv", first), ("b.csv", second))
    source = load_sources()["orders"]

    for run in ("run-1", "run-2"):  # a re-run replaces, never doubles
        results = sl.load_with_cursor(cur, source, landing, run, InsertLander())

    assert {(r.file_name, r.rows_read, r.rows_loaded, r.rows_rejected) for r in results} == {
        ("a.csv", 2, 1, 1), ("b.csv", 1, 1, 0)}
    cur.execute("select order_id, status, _run_id from raw.orders order by 1")
    assert cur.fetchall() == [("o1", "refunded", "run-2"), ("o2", "completed", "run-2")]
    cur.execute("select file_name, reason from audit.rejected_rows")
    assert cur.fetchall() == [("a.csv", "conflicting duplicate of primary key order_id=o1 (kept b.csv row 1)")]
    cur.execute("select count(*), sum(rows_read - rows_loaded - rows_rejected) from audit.load_batches")
    assert cur.fetchone() == (2, 0)


def test_parquet_unreadable_and_empty_files_are_accounted(tmp_path: Path, cur) -> None:
    landing = _orders(tmp_path, ("c.json", "{}"), ("d.csv", ""), ("e.parquet", "not parquet"))
    pq.write_table(pa.table({
        "order_id": ["p1", "p2"], "user_id": ["u1", "u2"], "status": ["completed", "COMPLETED "],
        "ordered_at": ["2026-01-01T00:00:00Z", "2026-01-02"], "revenue_usd": [1.5, 2.0],
        "subtotal_usd": [1.0, 2.0], "refund_amount_usd": [None, None], "coupon_code": [None, "X"],
    }), landing / "orders" / "b.parquet")

    results = sl.load_with_cursor(cur, load_sources()["orders"], landing, "run-1", InsertLander())

    counts = {r.file_name: (r.rows_read, r.rows_loaded, r.rows_rejected) for r in results}
    assert counts == {"b.parquet": (2, 2, 0), "c.json": (1, 0, 1), "d.csv": (0, 0, 0), "e.parquet": (1, 0, 1)}
    cur.execute("select file_name, row_number, reason from audit.rejected_rows order by 1")
    rows = cur.fetchall()
    assert rows[0][:2] == ("c.json", 0) and "unsupported file type .json" in rows[0][2]
    assert rows[1][:2] == ("e.parquet", 0) and "not a readable Parquet file" in rows[1][2]


def test_a_file_without_a_required_column_fails_naming_it_and_writes_nothing(tmp_path: Path, cur) -> None:
    landing = _orders(tmp_path, ("a.csv", "order_id,status\no1,completed\n"))
    with pytest.raises(LoadError, match=r"'a\.csv' lacks required column.*user_id"):
        sl.load_with_cursor(cur, load_sources()["orders"], landing, "run-1", InsertLander())
    cur.execute("select count(*) from audit.load_batches")
    assert cur.fetchone() == (0,)


# --- the production lander: generated SQL and row recovery, against a recording cursor -------------


class RecordingCursor:
    """Records statements; answers PUT and the validation COPY like Snowflake does."""

    def __init__(self, validation_rows: list[tuple]) -> None:
        self.statements: list[str] = []
        self.many: list[tuple[str, list]] = []
        self.validation_rows = validation_rows
        self.description: list[tuple] = []
        self._result: list[tuple] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self.statements.append(" ".join(sql.split()))
        if sql.startswith("put "):
            self._result = [("orders.csv", "orders.csv.gz", 10, 8, "NONE", "GZIP", "UPLOADED", "")]
        elif "validation_mode" in sql:
            self.description = [(n,) for n in ("ERROR", "FILE", "LINE", "CHARACTER", "BYTE_OFFSET", "CATEGORY",
                                               "CODE", "SQL_STATE", "COLUMN_NAME", "ROW_NUMBER", "ROW_START_LINE",
                                               "REJECTED_RECORD")]
            self._result = self.validation_rows
        else:
            self._result = []

    def executemany(self, sql: str, rows: list) -> None:
        self.many.append((sql, rows))

    def fetchone(self) -> tuple:
        return self._result[0]

    def fetchall(self) -> list[tuple]:
        return self._result


def _validation_row(row: int, char: int, error: str, record: str) -> tuple:
    return (error, "orders.csv.gz", row + 1, char, 0, "parsing", 100080, "22000", '"_LAND_0"["X":1]', row, row + 1,
            record)


def test_stage_lander_puts_copies_with_on_error_continue_and_recovers_rejects(tmp_path: Path) -> None:
    path = tmp_path / "it's.csv"
    path.write_text(BAD_ORDERS)
    cursor = RecordingCursor([
        _validation_row(3, 20, "Number of columns in file (4) does not match", "o3,u3,completed,2026-01-03"),
        _validation_row(9, 40, "second error of row 9", "x"),
        _validation_row(9, 5, "Invalid UTF8 detected in string", "x"),
    ])
    header = ORDERS_HEADER.split(",")

    sl.StageLander().land(cursor, path, header, "_land_0", "_rejected")

    statements = [s for s in cursor.statements if not s.startswith("create temporary stage")]
    put, ddl, copy, check_ddl, validation, delete = statements
    assert put == f"put 'file://{path.resolve()}' @c360_landing auto_compress = true overwrite = true".replace(
        "it's", "it''s")
    assert ddl.startswith("create or replace temporary table _land_0 (\"ORDER_ID\" varchar,")
    assert copy.startswith('copy into _land_0 ("ORDER_ID", "USER_ID",')
    assert "select $1, $2, $3, $4, $5, $6, $7, $8, $9, metadata$file_row_number from @c360_landing" in copy
    assert "files = ('orders.csv.gz')" in copy and copy.endswith("on_error = continue")
    assert "error_on_column_count_mismatch = true" in copy and "null_if = ()" in copy
    assert "_row_number" not in check_ddl
    assert validation.startswith("copy into _land_0_check from @c360_landing files = ('orders.csv.gz')")
    assert validation.endswith("validation_mode = return_all_errors")
    assert "select" not in validation  # a selecting COPY cannot be validated
    assert delete.startswith("delete from _land_0 where _row_number in")
    (insert, rows), = cursor.many
    assert insert.startswith("insert into _rejected")
    # One rejected record per row; of several errors the first by position names it.
    assert rows == [("it's.csv", 3, "parsing: Number of columns in file (4) does not match",
                     "o3,u3,completed,2026-01-03"),
                    ("it's.csv", 9, "parsing: Invalid UTF8 detected in string", "x")]


def test_parquet_copy_reads_fields_by_name_and_needs_no_validation(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"order_id": ["p1"], 'we"ird': ["x"]}), path)
    cursor = RecordingCursor([])

    sl.StageLander().land(cursor, path, ["order_id", 'we"ird'], "_land_1", "_rejected")

    copy = next(s for s in cursor.statements if s.startswith("copy into"))
    assert 'select $1:"order_id"::varchar, $1:"we""ird"::varchar, metadata$file_row_number' in copy
    assert "type = parquet" in copy and copy.endswith("on_error = continue")
    assert not any("validation_mode" in s for s in cursor.statements)


def test_identifiers_and_literals_are_quoted_for_snowflake() -> None:
    assert sl.q("order_id") == '"ORDER_ID"'
    assert sl.q("Odd Name") == '"Odd Name"'
    assert sl.literal("a'b\\c") == "'a''b\\\\c'"
    assert sl.joined_reasons([]) == "cast(null as varchar)"
