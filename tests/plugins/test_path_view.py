"""The review page's "why are these two ids in one profile?" section, read by the page's own queries on
either target (the same find_path the investigation DAG runs; its answers are tested in
tests/unit/oncall/test_id_path.py)."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from html import unescape

import pytest

from include.warehouse.db import Db
from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "plugins"))
from c360_review.page import render
from c360_review.queries import PathRequest, load

ANNA, BEN, CARL = "a" * 32, "a" * 32, "c" * 32
HOSTILE = "<b>tab'let</b>&"
# anna - laptop; laptop - ben via the hostile-named tablet: anna and ben share a profile; carl alone.
LINKS = [("laptop", "anna"), (HOSTILE, "anna"), (HOSTILE, "ben"), ("phone", "carl")]
MEMBERS = [(ANNA, "anna", "user_id"), (ANNA, "ben", "user_id"), (ANNA, "laptop", "anonymous_id"),
           (ANNA, HOSTILE, "anonymous_id"), (CARL, "carl", "user_id"), (CARL, "phone", "anonymous_id")]


@pytest.fixture
def warehouse(either_warehouse: Db) -> Db:
    db = either_warehouse
    db.script([
        "create schema if not exists stitching", "create schema if not exists staging",
        "create table staging.stg_rudderstack__identifies (source_sdk varchar, event_id varchar, event_at timestamp, "
        "anonymous_id varchar, user_id varchar, landed_file_name varchar, landed_row_number bigint)",
        "create table stitching.user_id_stitcher (user_main_id varchar, other_id varchar, other_id_type varchar)",
        "create table stitching.excluded_ids (other_id varchar, other_id_type varchar, reason varchar, detail varchar)",
    ])
    db.execute_many("insert into staging.stg_rudderstack__identifies values ('js', ?, ?, ?, ?, 'part-0.csv', ?)",
                    [(f"e{i}", datetime(2026, 10, 1 + i), anon, user, i) for i, (anon, user) in enumerate(LINKS)])
    db.execute_many("insert into stitching.user_id_stitcher values (?, ?, ?)", MEMBERS)
    if db.dialect == "duckdb":
        # The page opens the file read-only; DuckDB refuses that beside a read-write handle in one process.
        db._cur.close()
    return db


def _answer(html: str) -> re.Match:
    return re.search(r'<pre id="path-answer" data-verdict="(\w+)" data-links="(\d+)">(.*?)</pre>', html, re.S)


def test_two_ids_of_one_profile_get_their_chain_and_a_link_to_the_picture(warehouse: Db) -> None:
    html = render(load(path=PathRequest("anna", "ben")), "/c360-review/", {}, "w")
    verdict, links, text = _answer(html).groups()
    assert (verdict, links) == ("linked", "2")
    assert "identify event 'e1'" in unescape(text) and "identify event 'e2'" in unescape(text)
    assert HOSTILE not in html and HOSTILE in unescape(text)  # escaped on the page, intact once read
    assert f"user_main_id={ANNA}" in re.search(r'<a id="path-profile" href="([^"]+)"', html).group(1)


def test_two_ids_of_different_profiles_are_told_apart(warehouse: Db) -> None:
    html = render(load(path=PathRequest("anna", "carl", "user_id", "user_id")), "/c360-review/", {}, "w")
    verdict, _, text = _answer(html).groups()
    assert verdict == "different_profiles" and CARL in text and 'id="path-profile"' not in html


@pytest.mark.parametrize(("request_", "message"), [
    (PathRequest("anna", ""), "Give both ids"),
    (PathRequest("anna", "nobody-42"), "nobody-42"),
])
def test_an_incomplete_or_unknown_request_is_a_message(warehouse: Db, request_: PathRequest, message: str) -> None:
    html = render(load(path=request_), "/c360-review/", {}, "w")
    found = re.search(r'<p id="path-message">(.*?)</p>', html, re.S) or _answer(html)
    assert found and message in unescape(found.group(0))
