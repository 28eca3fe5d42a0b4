"""Every class of bad landing input in the catalogue, through the real loader (and dbt where the
behaviour is staging's): what happens to it, and that each file still reconciles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.contracts import load_sources
from include.loading.duckdb_loader import LoadError, load_all, load_source
from tests.conftest import PROJECT_ROOT
from tests.support.bad_input_cases import CATALOGUE, Case, readme_table, write_case

CASES = {case.key: case for case in CATALOGUE}


def _load(case: Case, tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, dict]:
    landing = tmp_path / "landing"
    write_case(case, landing)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    results = {r.file_name: r for r in load_source(con, load_sources()[case.source], landing, "run")}
    for r in results.values():
        assert r.rows_read == r.rows_loaded + r.rows_rejected, r
    return con, results


def _reasons(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("select reason from audit.rejected_rows order by file_name, row_number").fetchall()
    return [r[0] for r in rows]


def _counts(results: dict) -> list[tuple[int, int, int]]:
    return [(r.rows_read, r.rows_loaded, r.rows_rejected) for _, r in sorted(results.items())]


def test_catalogue_has_at_least_twenty_classes() -> None:
    assert len(CATALOGUE) >= 20 and len(CASES) == len(CATALOGUE)


def test_readme_table_is_the_catalogue() -> None:
    readme = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    assert readme_table() in readme, (
        "docs/operations.md's bad-input table drifted: paste `python -m tests.support.bad_input_cases`")


def test_wrong_column_count(tmp_path: Path) -> None:
    con, results = _load(CASES["wrong_column_count"], tmp_path)
    assert _counts(results) == [(3, 1, 2)]
    assert ["MISSING COLUMNS" in r or "TOO MANY COLUMNS" in r for r in _reasons(con)] == [True, True]


def test_missing_required_column(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"'orders'.*'a.csv'.*user_id"):
        _load(CASES["missing_required_column"], tmp_path)


def test_extra_columns(tmp_path: Path) -> None:
    con, results = _load(CASES["extra_columns"], tmp_path)
    assert _counts(results) == [(1, 1, 0)]
    assert con.execute("select channel from raw.orders").fetchall() == [("web",)]


@pytest.mark.parametrize("key", ["header_only", "empty_file"])
def test_files_without_rows(key: str, tmp_path: Path) -> None:
    _, results = _load(CASES[key], tmp_path)
    assert _counts(results) == [(0, 0, 0)]


def test_non_utf8(tmp_path: Path) -> None:
    con, results = _load(CASES["non_utf8"], tmp_path)
    assert _counts(results) == [(2, 1, 1)]
    assert "INVALID ENCODING" in _reasons(con)[0]


@pytest.mark.parametrize("key,rows", [("bom", 1), ("crlf", 2)])
def test_bom_and_crlf(key: str, rows: int, tmp_path: Path) -> None:
    con, results = _load(CASES[key], tmp_path)
    assert _counts(results) == [(rows, rows, 0)]
    assert con.execute("select min(order_id), min(user_id) from raw.orders").fetchone() == ("o-good", "u1")


def test_quoted_separators(tmp_path: Path) -> None:
    con, _ = _load(CASES["quoted_separators"], tmp_path)
    assert con.execute("select coupon_code from raw.orders").fetchone()[0] == 'SAVE,10 "vip"\nline2'


def test_unparsable_timestamp(tmp_path: Path) -> None:
    con, results = _load(CASES["unparsable_timestamp"], tmp_path)
    assert _counts(results) == [(2, 1, 1)]
    assert _reasons(con) == ["unparsable timestamp in ordered_at: yesterday"]


def test_timestamp_offsets(tmp_path: Path) -> None:
    con, _ = _load(CASES["timestamp_offsets"], tmp_path)
    got = con.execute("select order_id, ordered_at::varchar from raw.orders order by 1").fetchall()
    assert got == [("o1", "2026-01-01 10:00:00"), ("o2", "2026-01-01 12:00:00")]


def test_extreme_timestamps(tmp_path: Path) -> None:
    con, results = _load(CASES["extreme_timestamps"], tmp_path)
    assert _counts(results) == [(2, 2, 0)]
    got = [r[0] for r in con.execute("select ordered_at::varchar from raw.orders order by 1").fetchall()]
    assert got == ["1970-01-01 00:00:00", "9999-12-31 23:59:59"]


@pytest.mark.parametrize("key,reason", [
    ("negative_quantity", "quantity below minimum 1: -2"),
    ("non_numeric_price", "unparsable decimal(18,2) in unit_price_usd: cheap"),
])
def test_bad_item_values(key: str, reason: str, tmp_path: Path) -> None:
    con, results = _load(CASES[key], tmp_path)
    assert _counts(results) == [(2, 1, 1)]
    assert _reasons(con) == [reason]


def test_missing_primary_key(tmp_path: Path) -> None:
    con, results = _load(CASES["missing_primary_key"], tmp_path)
    assert _counts(results) == [(3, 1, 2)]
    assert _reasons(con) == ["missing required value in order_id"] * 2


def test_conflicting_duplicate_key(tmp_path: Path) -> None:
    con, results = _load(CASES["conflicting_duplicate_key"], tmp_path)
    assert _counts(results) == [(1, 0, 1), (1, 1, 0)]
    assert con.execute("select status from raw.orders").fetchall() == [("refunded",)]
    assert "kept b.csv row 1" in _reasons(con)[0]


def test_huge_field(tmp_path: Path) -> None:
    con, results = _load(CASES["huge_field"], tmp_path)
    assert _counts(results) == [(1, 1, 0)]
    assert con.execute("select length(coupon_code) from raw.orders").fetchone()[0] == 10_000_000


def test_parquet_wrong_type(tmp_path: Path) -> None:
    case = CASES["parquet_wrong_type"]
    folder = write_case(case, tmp_path / "landing")
    pq.write_table(pa.table({
        "order_item_id": ["i1", "i2"], "order_id": ["o1", "o1"], "product_id": ["p1", "p2"],
        "design_id": [None, None], "quantity": ["2", "two"], "unit_price_usd": [1.5, 2.5],
    }), folder / "a.parquet")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    [result] = load_source(con, load_sources()["order_items"], tmp_path / "landing", "run")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    assert _reasons(con) == ["unparsable integer in quantity: two"]
    assert con.execute("select quantity from raw.order_items").fetchall() == [(2,)]


@pytest.mark.parametrize("key,reason", [
    ("not_a_data_file", "unsupported file type .json"),
    ("corrupt_parquet", "not a readable Parquet file"),
])
def test_files_that_are_not_data(key: str, reason: str, tmp_path: Path) -> None:
    con, results = _load(CASES[key], tmp_path)
    assert _counts(results) == [(1, 0, 1), (1, 1, 0)]
    row_number, got, raw = con.execute("select row_number, reason, raw_record from audit.rejected_rows").fetchone()
    assert row_number == 0 and got.startswith(reason) and raw


def test_status_variants(tmp_path: Path) -> None:
    con, results = _load(CASES["status_variants"], tmp_path)
    assert _counts(results) == [(2, 1, 1)]
    assert _reasons(con) == ["status not in accepted values: shipped"]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """The staging-level cases in one landing directory, loaded and built by dbt for real."""
    tmp = tmp_path_factory.mktemp("bad_input_dbt")
    landing = tmp / "landing"
    for key in ("exact_duplicate_event", "unknown_references", "whitespace_ids", "special_character_ids"):
        case = CASES[key]
        renamed = Case(case.key, case.source, case.given, case.behaviour,
                       {f"{key}-{name}": content for name, content in case.files.items()})
        write_case(renamed, landing)
    for source in load_sources():
        (landing / source).mkdir(exist_ok=True)
    warehouse = tmp / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        load_all(con, landing, "run")
    env = {**os.environ, "C360_DUCKDB_PATH": str(warehouse)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--profiles-dir", ".",
         "--select", "staging", "stitching", "stitch_exclusion_list", "stitch_link_exclusions",
         "--indirect-selection", "cautious",
         "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs")],
        cwd=PROJECT_ROOT / "dbt", env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


@pytest.mark.slow  # builds staging and stitching with dbt
def test_exact_duplicate_event_is_staged_once(staged) -> None:
    raw = staged.execute("select count(*) from raw.identifies_js where id = 'dup1'").fetchone()[0]
    stg = staged.execute("select count(*) from staging.base_rudderstack__identifies_js "
                         "where event_id = 'dup1'").fetchone()[0]
    assert (raw, stg) == (2, 1)


@pytest.mark.slow  # builds staging and stitching with dbt
def test_unknown_references_are_kept_and_flagged_by_a_warn_test(staged) -> None:
    assert staged.execute("select count(*) from staging.stg_shop__order_items where order_id = 'o-missing'"
                          ).fetchone()[0] == 1
    warned = staged.execute("select node_name from audit.dbt_results where resource_type = 'test' "
                            "and status = 'warn' and node_name like 'relationships_stg_shop__order_items%'").fetchall()
    assert len(warned) == 2  # order_id and product_id


@pytest.mark.slow  # builds staging and stitching with dbt
def test_whitespace_ids_become_null_and_stay_out_of_the_graph(staged) -> None:
    rows = staged.execute("select event_id, anonymous_id, user_id from staging.base_rudderstack__identifies_js "
                          "where event_id like 'ws%' order by 1").fetchall()
    assert [(r[1], r[2]) for r in rows] == [(None, "u1"), ("a2", None)]
    graph_ids = {r[0] for r in staged.execute("select other_id from stitching.user_id_stitcher").fetchall()}
    assert not any(i.strip(" \t\xa0") == "" for i in graph_ids)


@pytest.mark.slow  # builds staging and stitching with dbt
def test_special_character_ids_are_stitched_verbatim(staged) -> None:
    rows = staged.execute("select other_id, other_id_type, user_main_id from stitching.user_id_stitcher "
                          "where other_id in ($a, $u1, $u2)",
                          {"a": "a'1; drop table x;--", "u1": "u%_\\1", "u2": "u\U0001f600"}).fetchall()
    assert {(r[0], r[1]) for r in rows} == {("a'1; drop table x;--", "anonymous_id"), ("u%_\\1", "user_id"),
                                           ("u\U0001f600", "user_id")}
    assert len({r[2] for r in rows}) == 1  # one profile, linked through the shared anonymous_id
