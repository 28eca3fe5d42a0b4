"""The incremental scenario's correctness check (bench.suite.compare_warehouses) on tiny warehouses laid
out as publishing leaves them (contract views on a build schema): equal content is equal whatever the
row order and the run-id / wall-clock columns; one changed value or a missing column is not."""

from __future__ import annotations

from pathlib import Path

import duckdb

from bench.suite import compare_warehouses, compared_tables

TABLES = {
    "stitching.user_id_stitcher": ("user_main_id varchar, other_id varchar, other_id_type varchar",
                                   [("m1", "a1", "anonymous_id"), ("m1", "u1", "user_id"), ("m2", "u2", "user_id")]),
    "stitching.excluded_ids": ("other_id varchar, other_id_type varchar, reason varchar",
                               [("k1", "anonymous_id", "super_connector")]),
    "marts.with_user_id": ("user_id varchar, user_main_id varchar, total_orders bigint, run_id varchar",
                           [("u1", "m1", 3, "run_a"), ("u2", "m2", None, "run_a")]),
}


def _warehouse(path: Path, colour: str, changes: dict[str, list[tuple]] | None = None,
               extra_column: str | None = None) -> Path:
    """Each contract table as a view on <layer>__<colour>, rows reversed (order must not matter) and
    run_id set to the colour (a column the comparison ignores)."""
    with duckdb.connect(str(path)) as con:
        for table, (columns, rows) in TABLES.items():
            layer, name = table.split(".")
            built = f"{layer}__{colour}.{name}"
            con.execute(f"create schema if not exists {layer}__{colour}")
            con.execute(f"create schema if not exists {layer}")
            con.execute(f"create table {built} ({columns})")
            for row in reversed((changes or {}).get(table, rows)):
                values = [colour if value == "run_a" else value for value in row]
                con.execute(f"insert into {built} values ({', '.join('?' * len(values))})", values)
            if extra_column and table == "stitching.excluded_ids":
                con.execute(f"alter table {built} add column {extra_column} varchar")
            con.execute(f"create view {table} as select * from {built}")
    return path


def test_compares_the_published_contract_tables_but_history() -> None:
    assert compared_tables() == list(TABLES)


def test_same_content_is_equal(tmp_path: Path) -> None:
    result = compare_warehouses(_warehouse(tmp_path / "a.duckdb", "blue"), _warehouse(tmp_path / "b.duckdb", "green"),
                                tmp_path / "hashes")
    assert set(result) == set(TABLES)
    for table, entry in result.items():
        assert entry["equal"], table
        assert (entry["only_incremental"], entry["only_rebuild"]) == (0, 0)
        assert entry["rows"] == len(TABLES[table][1])
    assert result["marts.with_user_id"]["ignored"] == ["run_id"]
    assert result["marts.with_user_id"]["columns"] == 3


def test_one_changed_value_is_not_equal(tmp_path: Path) -> None:
    changed = {"marts.with_user_id": [("u1", "m1", 3, "run_a"), ("u2", "m1", None, "run_a")]}
    result = compare_warehouses(_warehouse(tmp_path / "a.duckdb", "blue"),
                                _warehouse(tmp_path / "b.duckdb", "green", changed), tmp_path / "hashes")
    assert not result["marts.with_user_id"]["equal"]
    assert (result["marts.with_user_id"]["only_incremental"], result["marts.with_user_id"]["only_rebuild"]) == (1, 1)
    assert result["stitching.user_id_stitcher"]["equal"] and result["stitching.excluded_ids"]["equal"]


def test_a_missing_row_or_column_is_not_equal(tmp_path: Path) -> None:
    fewer = {"stitching.user_id_stitcher": TABLES["stitching.user_id_stitcher"][1][:2]}
    result = compare_warehouses(_warehouse(tmp_path / "a.duckdb", "blue", extra_column="note"),
                                _warehouse(tmp_path / "b.duckdb", "green", fewer), tmp_path / "hashes")
    assert not result["stitching.user_id_stitcher"]["equal"]
    assert result["stitching.user_id_stitcher"]["only_incremental"] == 1
    # An all-null extra column changes no row's values but is still a difference.
    assert not result["stitching.excluded_ids"]["equal"]
