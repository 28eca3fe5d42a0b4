"""The review page's profile graph without a server: what load_profile reads from a small DuckDB
warehouse and what the SVG holds, node by node, parsed as a browser's HTML parser would. The picture in
a real API server and Chromium, on the warehouse of real DAG runs, is tests/plugins/test_review_page.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from include.warehouse.db import Db
from tests.conftest import PROJECT_ROOT

# The review page's package is imported as the API server imports plugins: from the plugins folder.
sys.path.insert(0, str(PROJECT_ROOT / "plugins"))
from c360_review.layout import spring_layout
from c360_review.page import render
from c360_review.profile_graph import profile_section
from c360_review.queries import PageData, load_profile

# A profile whose ids carry everything an HTML or SVG attribute must not take raw. HOSTILE_ANON links both
# user_ids (a bridge); HOSTILE_EXCLUDED, a template id a rule keeps out, is linked to HOSTILE_USER.
HOSTILE_PROFILE = "badc0ffee0ddf00d" * 2
HOSTILE_USER = "\"><script>document.title='pwned'</script>&amp;\\u'"
HOSTILE_ANON = "anon' onmouseover=\"window.pwned=1\" x=\\ <b>&lt;"
HOSTILE_SECOND_USER = "plain-user-2"
HOSTILE_EXCLUDED = "#{anonymousId}<img src=x onerror=\"window.pwned=1\">'\\&"
HOSTILE_REASON_DETAIL = "matches ^#\\{ <i>&\"'"
HOSTILE_LINKS = [(HOSTILE_ANON, HOSTILE_USER), (HOSTILE_ANON, HOSTILE_SECOND_USER)]


def add_hostile_profile(db: Db) -> None:
    """The hostile profile's rows in the stitching and staging tables (of the real models or of the small
    warehouse below), naming only the columns the page reads."""
    db.execute_many("insert into staging.stg_rudderstack__identifies (source_sdk, event_id, event_at, anonymous_id, "
                    "user_id) values ('js', ?, ?, ?, ?)",
                    [(f"hostile-{n}", datetime(2026, 10, 2, 9, n), anon, user)
                     for n, (anon, user) in enumerate([*HOSTILE_LINKS, (HOSTILE_EXCLUDED, HOSTILE_USER)])])
    db.execute_many("insert into stitching.user_id_stitcher (user_main_id, other_id, other_id_type) values (?, ?, ?)",
                    [(HOSTILE_PROFILE, HOSTILE_USER, "user_id"), (HOSTILE_PROFILE, HOSTILE_SECOND_USER, "user_id"),
                     (HOSTILE_PROFILE, HOSTILE_ANON, "anonymous_id")])
    db.execute("insert into stitching.excluded_ids (other_id, other_id_type, reason, detail) values (?, ?, ?, ?)",
               (HOSTILE_EXCLUDED, "anonymous_id", "bot_pattern", HOSTILE_REASON_DETAIL))
    db.execute("insert into stitching.stitch_bridge_ids (other_id, other_id_type, linked_ids, user_main_id) "
               "values (?, 'anonymous_id', 2, ?)", (HOSTILE_ANON, HOSTILE_PROFILE))


# A star: user "hub" with anonymous_ids d0..d9; d0 also links "other" (d0 is the bridge); "kiosk" (excluded)
# is linked to hub and other; "lonely" is a user_id of orders only, in the profile without links.
STAR = "5" * 32
STAR_LINKS = [(f"d{n}", "hub") for n in range(10)] + [("d0", "other")]
STAR_IDS = {"hub": "user_id", "other": "user_id", "lonely": "user_id"} | {f"d{n}": "anonymous_id" for n in range(10)}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Db]:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        w = Db(con)
        w.script([
            "create schema stitching", "create schema staging",
            "create table staging.stg_rudderstack__identifies (source_sdk varchar, event_id varchar, "
            "event_at timestamp, anonymous_id varchar, user_id varchar)",
            "create table stitching.user_id_stitcher (user_main_id varchar, other_id varchar, other_id_type varchar)",
            "create table stitching.excluded_ids (other_id varchar, other_id_type varchar, reason varchar, "
            "detail varchar)",
            "create table stitching.stitch_bridge_ids (other_id varchar, other_id_type varchar, linked_ids bigint, "
            "user_main_id varchar)",
        ])
        w.execute_many("insert into staging.stg_rudderstack__identifies values ('js', ?, null, ?, ?)",
                       [(f"e{n}", a, u) for n, (a, u) in enumerate(
                           [*STAR_LINKS, *STAR_LINKS[:2], ("kiosk", "hub"), ("kiosk", "other"), ("kiosk", "x")])])
        w.execute_many("insert into stitching.user_id_stitcher values (?, ?, ?)",
                       [(STAR, i, t) for i, t in STAR_IDS.items()] + [("7" * 32, "x", "user_id")])
        w.execute("insert into stitching.excluded_ids values ('kiosk', 'anonymous_id', 'super_connector', "
                  "'linked to 3 user_ids (max 2)')")
        w.execute(f"insert into stitching.stitch_bridge_ids values ('d0', 'anonymous_id', 2, '{STAR}'), "
                  "('kiosk', 'anonymous_id', 3, null)")
        add_hostile_profile(w)
        yield w


class Elements(HTMLParser):
    """Every element's tag and attributes, unescaped as a browser's parser does."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def nodes(self) -> list[dict[str, str | None]]:
        return [a for _, a in self.found if "node" in (a.get("class") or "").split() and "data-id" in a]


def test_the_star_is_read_with_its_links_bridge_and_excluded_neighbour(db: Db) -> None:
    view = load_profile(db, STAR)
    assert view.message is None and view.too_large is None
    assert (view.id_count, view.user_id_count) == (13, 3)
    assert {(i.other_id, i.other_id_type) for i in view.ids} == set(STAR_IDS.items())
    assert view.links == sorted(STAR_LINKS)  # distinct: the repeated events count once
    assert {i.other_id: i.bridge_links for i in view.ids if i.bridge_links is not None} == {"d0": 2}
    # kiosk is linked to x too, which is in another profile: only this profile's members are its ends here
    assert [(e.other_id, e.reason, e.members) for e in view.excluded] == [
        ("kiosk", "super_connector", [("user_id", "hub"), ("user_id", "other")])]


def test_every_id_is_a_node_with_its_type_bridge_and_exclusion(db: Db) -> None:
    html = profile_section(load_profile(db, STAR), "/c360-review/")
    nodes = Elements(html).nodes()
    members = [n for n in nodes if "data-excluded" not in n]
    assert sorted((n["data-id"], n["data-id-type"]) for n in members) == sorted(STAR_IDS.items())
    assert {n["data-id"] for n in members if n.get("data-bridge") == "true"} == {"d0"}
    assert [(n["data-id"], n["data-reason"]) for n in nodes if n.get("data-excluded") == "true"] == [
        ("kiosk", "super_connector")]
    shapes = {(t, a["data-id-type"]) for t, a in Elements(html).found if "data-id" in a and t in ("circle", "rect")}
    assert shapes == {("circle", "user_id"), ("rect", "anonymous_id")}
    edges = [a for t, a in Elements(html).found if t == "line"]
    assert len(edges) == len(STAR_LINKS) + 2  # 11 links, 2 to the excluded kiosk
    assert sum("to-excluded" in (a.get("class") or "") for a in edges) == 2


def test_the_picture_is_the_same_every_time_and_inside_its_frame(db: Db) -> None:
    first = profile_section(load_profile(db, STAR), "/")
    assert profile_section(load_profile(db, STAR), "/") == first
    for node in Elements(first).nodes():
        x = float(node.get("cx") or node["x"])
        y = float(node.get("cy") or node["y"])
        assert 0 < x < 960 and 0 < y < 640


def test_the_layout_puts_linked_ids_closer_than_unlinked_ones() -> None:
    # two stars joined by one edge: a node is nearer its own centre than the other star's
    edges = [(0, n) for n in range(2, 12)] + [(1, n) for n in range(12, 22)] + [(2, 12)]
    points = spring_layout(22, edges)
    assert points == spring_layout(22, edges)
    assert all(0 <= c <= 1 for p in points for c in p)

    def dist(a: int, b: int) -> float:
        return ((points[a][0] - points[b][0]) ** 2 + (points[a][1] - points[b][1]) ** 2) ** 0.5

    assert max(dist(0, n) for n in range(3, 12)) < min(dist(1, n) for n in range(3, 12))
    assert spring_layout(0, []) == [] and spring_layout(1, []) == [(0.5, 0.5)]


def test_a_profile_above_the_limit_is_listed_not_drawn(db: Db) -> None:
    view = load_profile(db, STAR, max_ids=12)
    assert view.too_large and "13 ids, more than the 12" in view.too_large
    html = profile_section(view, "/")
    assert 'id="profile-graph"' not in html and 'id="profile-too-large"' in html
    rows = [a for t, a in Elements(html).found if t == "tr" and "data-id" in a]
    assert rows[0]["data-id"] == "d0" and rows[0]["data-bridge"] == "true"  # bridge ids first
    assert {r["data-id"] for r in rows} == set(STAR_IDS) | {"kiosk"}  # the ids, then the excluded table
    # the members and the excluded neighbours together count against the limit
    assert load_profile(db, STAR, max_ids=13).too_large and not load_profile(db, STAR, max_ids=14).too_large


@pytest.mark.parametrize(("requested", "message"), [
    ("0" * 32, "No profile has user_main_id 00000000000000000000000000000000 in stitching.user_id_stitcher"),
    ("<script>", "'<script>' is not a user_main_id"),
])
def test_an_unknown_or_malformed_user_main_id_is_a_message(db: Db, requested: str, message: str) -> None:
    view = load_profile(db, requested)
    assert view.message and message in view.message
    html = profile_section(view, "/")
    assert 'id="profile-message"' in html and "<script>" not in html


def test_an_unbuilt_warehouse_says_so(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        view = load_profile(Db(con), STAR)
    assert view.message == ("Not yet in the warehouse: stitching.user_id_stitcher, stitching.excluded_ids, "
                            "staging.stg_rudderstack__identifies. Run the customer_360 DAG first.")


def test_hostile_ids_are_escaped_everywhere(db: Db) -> None:
    view = load_profile(db, HOSTILE_PROFILE)
    html = render(PageData(profile=view), "/c360-review/", {}, "w")
    for raw in ("<script>", "<img", "<b>", "<i>", "onmouseover=\"", "onerror=\""):
        assert raw not in html
    elements = Elements(html)
    assert not [t for t, _ in elements.found if t in ("script", "img", "b", "i")]
    nodes = {n["data-id"]: n for n in elements.nodes()}
    assert set(nodes) == {HOSTILE_USER, HOSTILE_ANON, HOSTILE_SECOND_USER, HOSTILE_EXCLUDED}  # exact round trip
    assert nodes[HOSTILE_ANON]["data-bridge"] == "true"
    assert nodes[HOSTILE_EXCLUDED]["data-excluded"] == "true"
    assert not any(a.startswith("on") for _, attrs in elements.found for a in attrs)


def test_the_largest_profile_named_by_the_gate_links_to_its_picture() -> None:
    data = PageData(selected_run="r", checks=[{
        "status": "fail", "check_name": "stitching:largest_cluster_ids", "layer": "stitching", "observed_value": 9.0,
        "threshold": "", "baseline_value": None, "detail": f"user_main_id {STAR}; investigate"}])
    links = [a["href"] for t, a in Elements(render(data, "/c360-review/", {}, "w")).found
             if t == "a" and "profile-link" in (a.get("class") or "")]
    assert links == [f"/c360-review/?user_main_id={STAR}#profile"]
