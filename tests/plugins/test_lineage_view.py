"""The review page's publication banner and identity lineage, read by the page's own queries from a
warehouse of either target written here (the browser test covers the same page on real runs)."""

from __future__ import annotations

import re
import sys
from datetime import datetime

import pytest

from include.publishing.lineage import DDL as HISTORY_DDL
from include.warehouse.db import Db
from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "plugins"))
from c360_review.page import render
from c360_review.queries import load

A, B, C = "a" * 32, "b" * 32, "c" * 32
CHANGES = [  # r2 merged B into A and split C in two; r3 renamed A
    ("r2", B, A, "merged", 3, datetime(2026, 11, 2)), ("r2", C, "d" * 32, "split", 1, datetime(2026, 11, 2)),
    ("r2", C, "e" * 32, "split", 2, datetime(2026, 11, 2)), ("r3", A, "f" * 32, "renamed", 4, datetime(2026, 11, 3)),
]


@pytest.fixture
def warehouse(either_warehouse: Db) -> Db:
    """Both targets: the page reads through its own connection, as the API server does."""
    db = either_warehouse
    db.script(["create schema if not exists stitching", HISTORY_DDL, "create schema if not exists audit",
               "create table audit.builds (run_id varchar, colour varchar, started_at timestamp, "
               "published_at timestamp)"])
    db.execute_many("insert into stitching.user_main_id_changes values (?, ?, ?, ?, ?, ?)", CHANGES)
    db.execute_many("insert into audit.builds values (?, ?, ?, ?)", [
        ("r3", "blue", datetime(2026, 11, 3), datetime(2026, 11, 3, 1)),
        ("r4", "green", datetime(2026, 11, 4), None)])
    if db.dialect == "duckdb":
        # The page opens the file read-only; DuckDB refuses that beside a read-write handle in one process.
        db._cur.close()
    return db


def _table(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body) if "<td" in row]


def test_each_published_run_counts_its_merges_and_splits(warehouse: Db) -> None:
    html = render(load(), "/c360-review/", {}, "w")
    assert _table(html, "lineage") == [["r3", "2026-11-03 00:00", "0", "0", "1", "4"],
                                       ["r2", "2026-11-02 00:00", "1", "1", "0", "6"]]


def test_a_profiles_history_links_each_other_profile(warehouse: Db) -> None:
    html = render(load(user_main_id=A), "/c360-review/", {}, "w")
    rows = _table(html, "history")
    assert [(r[0], r[1]) for r in rows] == [("r2", "merged"), ("r3", "renamed")]
    assert f"user_main_id={B}" in rows[0][2] and f"user_main_id={'f' * 32}" in rows[1][3]


def test_the_banner_says_readers_are_still_on_the_last_published_run(warehouse: Db) -> None:
    html = render(load(), "/c360-review/", {}, "w")
    banner = re.search(r'<p id="publication" class="(\w+)">(.*?)</p>', html, re.S)
    assert banner.group(1) == "fail"
    assert "Readers see run <strong>r3</strong>" in banner.group(2) and "latest run, r4, was not published" in \
        banner.group(2)
