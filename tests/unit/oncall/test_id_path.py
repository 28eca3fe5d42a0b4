"""Why are these two ids in one profile? include/oncall/id_path.py on a small warehouse built here (DuckDB,
and once on the Snowflake emulator for the same answers), and the stitching_investigation DAG's params."""

from __future__ import annotations

import functools
import json
import logging
import random
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import networkx as nx
import pytest

from include.oncall.id_path import (
    DIFFERENT_PROFILES,
    EXCLUDED,
    LINKED,
    NO_CHAIN,
    SAME_ID,
    UNKNOWN,
    UNMERGED,
    PathAnswer,
    find_path,
    node_order,
    run_path,
    shortest_path,
    validate_path_request,
)
from include.oncall.investigation import InvestigationError, investigate, record_report
from include.warehouse import connect_warehouse
from include.warehouse.db import Db
from tests.conftest import PROJECT_ROOT

A, B, C, D, E, F, G = ("a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32, "f" * 32, "9" * 32)
RITA, SAM, TOM, VAL = ("1" * 32, "2" * 32, "3" * 32, "4" * 32)  # profiles shaped by stitch_link_exclusions
QUOTED_USER, QUOTED_DEVICE, QUOTED_OTHER = "o'brien\\", 'dev"ice%_1\\\'', "50% off'; drop table x; --"

# (anonymous_id, user_id, sdk, event_id, event_at): identify events with both ids.
EVENTS = [
    ("tablet", "anna", "js", "e10", datetime(2026, 10, 10)),  # a later event of the same link
    ("tablet", "anna", "js", "e02", datetime(2026, 10, 2, 8, 30)),
    ("tablet", "ben", "ruby", "e03b", datetime(2026, 10, 3, 12)),
    ("tablet", "ben", "js", "e03a", datetime(2026, 10, 3, 12)),  # same time: the lower event id
    ("ben-phone", "ben", "ruby", "e04", datetime(2026, 10, 4)),
    # a longer way from anna to ben, through ids that sort before "tablet"
    ("anna-laptop", "anna", "js", "e05", datetime(2026, 9, 1)),
    ("anna-laptop", "amy", "js", "e06", datetime(2026, 9, 2)),
    ("amy-phone", "amy", "ruby", "e07", datetime(2026, 9, 3)),
    ("amy-phone", "ben", "ruby", "e08", datetime(2026, 9, 4)),
    # the excluded kiosk saw anna and carl: no link
    ("kiosk-1", "anna", "js", "e20", datetime(2026, 9, 5)),
    ("kiosk-1", "carl", "js", "e21", datetime(2026, 9, 6)),
    ("carl-phone", "carl", "js", "e12", datetime(2026, 10, 12)),
    # two equally short ways from uma to vic: through z-tv (listed first) and a-tv
    ("z-tv", "uma", "js", "e30", datetime(2026, 10, 1)),
    ("z-tv", "vic", "js", "e31", datetime(2026, 10, 1)),
    ("a-tv", "vic", "ruby", "e32", datetime(2026, 10, 2)),
    ("a-tv", "uma", "ruby", "e33", datetime(2026, 10, 2)),
    (QUOTED_DEVICE, QUOTED_USER, "js", "q'1", datetime(2026, 10, 20)),
    (QUOTED_DEVICE, QUOTED_OTHER, "ruby", "q\\2", datetime(2026, 10, 21)),
    # unmerged by link: the family tv's link to sam is excluded, so rita and sam are two profiles
    ("family-tv", "rita", "js", "e50", datetime(2026, 11, 1)),
    ("family-tv", "sam", "js", "e51", datetime(2026, 11, 2)),
    ("sam-phone", "sam", "ruby", "e52", datetime(2026, 11, 3)),
    # an entry names the earlier of two events of (den-pc, tom): the later one makes the link
    ("den-pc", "tom", "js", "e60", datetime(2026, 11, 1)),
    ("den-pc", "tom", "js", "e61", datetime(2026, 11, 5)),
    ("den-pc", "uri", "js", "e62", datetime(2026, 11, 6)),
    # the unmerged (b-tv, wes) was the way from val to wes that sorts first; wes-phone still joins them
    ("b-tv", "val", "js", "e70", datetime(2026, 11, 1)),
    ("b-tv", "wes", "js", "e71", datetime(2026, 11, 2)),
    ("wes-phone", "wes", "ruby", "e72", datetime(2026, 11, 3)),
    ("wes-phone", "val", "ruby", "e73", datetime(2026, 11, 4)),
]
# stitching.int_id_link_exclusions: (entry, anonymous_id, user_id, reason, decided_by, decided_at, event id, is_match)
LINK_EXCLUSIONS = [
    ("anonymous_id 'family-tv', user_id 'sam'", "family-tv", "sam", "TICKET-7 shared tv", "alice",
     date(2026, 11, 10), "e51", True),
    ("anonymous_id 'den-pc', user_id 'tom', event_id 'e60'", "den-pc", "tom", "one bad event", "bob",
     date(2026, 11, 10), "e60", True),
    ("anonymous_id 'den-pc', user_id 'tom', event_id 'e60'", "den-pc", "tom", "one bad event", "bob",
     date(2026, 11, 10), "e61", False),
    ("anonymous_id 'b-tv', user_id 'wes'", "b-tv", "wes", "kiosk mode", "carol", date(2026, 11, 10), "e71", True),
]
SDK = {event_id: sdk for _, _, sdk, event_id, _ in EVENTS}
USERS = {"anna", "ben", "amy", "carl", "uma", "vic", QUOTED_USER, QUOTED_OTHER, "ghost", "orders-only", "dual",
         "rita", "sam", "tom", "uri", "val", "wes"}
PROFILES = [  # (user_main_id, other_id); "ghost" has no identify event (staging changed since stitching)
    *((A, i) for i in ("anna", "ben", "amy", "tablet", "ben-phone", "anna-laptop", "amy-phone", "ghost")),
    (C, "carl"), (C, "carl-phone"), (E, "uma"), (E, "vic"), (E, "z-tv"), (E, "a-tv"),
    (B, QUOTED_USER), (B, QUOTED_DEVICE), (B, QUOTED_OTHER), (F, "orders-only"), (D, "dual"),
    (RITA, "rita"), (RITA, "family-tv"), (SAM, "sam"), (SAM, "sam-phone"), (TOM, "tom"), (TOM, "uri"),
    (TOM, "den-pc"), (VAL, "val"), (VAL, "wes"), (VAL, "b-tv"), (VAL, "wes-phone"),
]


def build(db: Db) -> None:
    """The tables the answer reads, in SQL both targets accept."""
    db.script([
        "create schema if not exists stitching", "create schema if not exists staging",
        "create table staging.stg_rudderstack__identifies (source_sdk varchar, event_id varchar, event_at timestamp, "
        "anonymous_id varchar, user_id varchar, landed_file_name varchar, landed_row_number bigint)",
        "create table stitching.user_id_stitcher (user_main_id varchar, other_id varchar, other_id_type varchar)",
        "create table stitching.excluded_ids (other_id varchar, other_id_type varchar, reason varchar, detail varchar)",
        "create table stitching.int_id_link_exclusions (entry varchar, anonymous_id varchar, user_id varchar, "
        "reason varchar, decided_by varchar, decided_at date, source_sdk varchar, identify_event_id varchar, "
        "is_match boolean)",
    ])
    db.execute_many("insert into staging.stg_rudderstack__identifies values (?, ?, ?, ?, ?, ?, ?)",
                    [(sdk, eid, at, anon, user, f"{sdk}/part-{n % 2}.csv", n + 1)
                     for n, (anon, user, sdk, eid, at) in enumerate(EVENTS)]
                    + [("js", "e40", datetime(2026, 10, 1), "lonely-device", None, "js/part-0.csv", 99)])
    db.execute_many("insert into stitching.user_id_stitcher values (?, ?, ?)",
                    [(m, i, "user_id" if i in USERS else "anonymous_id") for m, i in PROFILES]
                    + [(G, "dual", "anonymous_id")])
    db.execute("insert into stitching.excluded_ids values (?, ?, ?, ?)",
               ("kiosk-1", "anonymous_id", "super_connector", "linked to 40 user_ids (max 5)"))
    db.execute_many("insert into stitching.int_id_link_exclusions values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*entry, SDK[event_id], event_id, match) for *entry, event_id, match in LINK_EXCLUSIONS])


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Db]:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    build(Db(con))
    yield Db(con)
    con.close()


def chain(answer: PathAnswer) -> list[tuple]:
    return [(link.from_node[1], link.to_node[1], link.event_id) for link in answer.links]


def test_a_chain_of_three_links_comes_with_its_events_in_order(db: Db) -> None:
    answer = find_path(db, "anna", "ben-phone", "user_id")
    assert (answer.verdict, answer.user_main_id, answer.profile_ids, answer.profile_links) == (LINKED, A, 8, 7)
    # per link its earliest event; at the same time the lower event id
    assert chain(answer) == [("anna", "tablet", "e02"), ("tablet", "ben", "e03a"), ("ben", "ben-phone", "e04")]
    first = answer.links[0]
    assert (first.from_node, first.to_node, first.source_sdk, first.event_at, first.landed_file_name,
            first.landed_row_number) == (("user_id", "anna"), ("anonymous_id", "tablet"), "js",
                                         datetime(2026, 10, 2, 8, 30), "js/part-1.csv", 2)
    text = answer.text()
    assert text.splitlines()[0] == "Why are user_id 'anna' and anonymous_id 'ben-phone' in one profile?"
    assert f"both in profile {A} (8 ids, 7 links). The shortest chain has 3 links" in text
    assert ("  1. user_id 'anna' -> anonymous_id 'tablet'\n    identify event 'e02' of the js SDK at "
            "2026-10-02 08:30:00, landed in js/part-1.csv row 2") in text
    assert "  2. anonymous_id 'tablet' -> user_id 'ben'" in text
    assert "  3. user_id 'ben' -> anonymous_id 'ben-phone'" in text


def test_a_shorter_chain_is_preferred_over_a_longer_one(db: Db) -> None:
    # anna - anna-laptop - amy - amy-phone - ben is 4 links through ids sorting first; anna - tablet - ben is 2
    assert chain(find_path(db, "anna", "ben")) == [("anna", "tablet", "e02"), ("tablet", "ben", "e03a")]
    assert chain(find_path(db, "ben", "anna")) == [("ben", "tablet", "e03a"), ("tablet", "anna", "e02")]
    assert chain(find_path(db, "amy", "ben-phone")) == [("amy", "amy-phone", "e07"), ("amy-phone", "ben", "e08"),
                                                       ("ben", "ben-phone", "e04")]


def test_equally_short_chains_are_broken_by_id_order(db: Db) -> None:
    assert chain(find_path(db, "uma", "vic")) == [("uma", "a-tv", "e33"), ("a-tv", "vic", "e32")]
    assert chain(find_path(db, "vic", "uma")) == [("vic", "a-tv", "e32"), ("a-tv", "uma", "e33")]


def test_shortest_path_is_the_first_of_the_shortest_in_id_order() -> None:
    for seed in range(100):
        rng = random.Random(seed)
        links = {(f"a{rng.randint(0, 15)}", f"u{rng.randint(0, 15)}") for _ in range(rng.randint(1, 40))}
        graph = nx.Graph([(("anonymous_id", a), ("user_id", u)) for a, u in links])
        start, goal = rng.sample(sorted(graph.nodes), 2)
        found = shortest_path(sorted(links, reverse=True), start, goal)
        if not nx.has_path(graph, start, goal):
            assert found is None, seed
            continue
        best = min(nx.all_shortest_paths(graph, start, goal), key=lambda p: [node_order(n) for n in p])
        assert found == best, seed


def test_ids_in_different_profiles_are_answered_with_both_user_main_ids(db: Db) -> None:
    answer = find_path(db, "anna", "carl")  # the excluded kiosk saw both: no link
    assert (answer.verdict, answer.user_main_id, answer.links) == (DIFFERENT_PROFILES, None, [])
    assert (answer.first.user_main_id, answer.second.user_main_id) == (A, C)
    assert f"  - user_id 'anna' is in profile {A}\n  - user_id 'carl' is in profile {C}" in answer.text()
    assert f"No identify event links profile {A} to profile {C}" in answer.text()
    assert find_path(db, "orders-only", "carl").verdict == DIFFERENT_PROFILES  # an id of orders only: no link


def test_an_excluded_id_is_answered_with_its_rule(db: Db) -> None:
    answer = find_path(db, "anna", "kiosk-1")
    assert answer.verdict == EXCLUDED and answer.second.exclusions == (
        ("anonymous_id", "super_connector", "linked to 40 user_ids (max 5)"),)
    assert ("  - id 'kiosk-1' was kept out of the identity graph (anonymous_id: rule super_connector "
            "(linked to 40 user_ids (max 5))), so it is in no profile; see stitching.excluded_ids") in answer.text()
    assert find_path(db, "kiosk-1", "nobody").verdict == EXCLUDED  # the rule first, then the unknown id
    assert "id 'nobody' is not in" in find_path(db, "kiosk-1", "nobody").text()


def test_an_unknown_id_is_answered(db: Db) -> None:
    answer = find_path(db, "nobody", "anna")
    assert answer.verdict == UNKNOWN
    assert ("  - id 'nobody' is not in stitching.user_id_stitcher nor stitching.excluded_ids: check the spelling "
            "and the type (ids are trimmed, case-sensitive)") in answer.text()
    assert find_path(db, "anna", "ben", other_id_type="anonymous_id").verdict == UNKNOWN  # ben is a user_id


def test_ids_with_quotes_backslashes_and_percent_are_bound(db: Db) -> None:
    answer = find_path(db, f" {QUOTED_USER} ", QUOTED_OTHER, "user_id", "user_id")  # trimmed as the stitcher does
    assert answer.verdict == LINKED and answer.user_main_id == B
    assert chain(answer) == [(QUOTED_USER, QUOTED_DEVICE, "q'1"), (QUOTED_DEVICE, QUOTED_OTHER, "q\\2")]
    assert f"  1. user_id {QUOTED_USER!r} -> anonymous_id {QUOTED_DEVICE!r}" in answer.text()
    assert db.scalar("select count(*) from stitching.user_id_stitcher") == len(PROFILES) + 1


def test_the_same_id_and_a_stale_profile(db: Db) -> None:
    same = find_path(db, "anna", "anna")
    assert (same.verdict, same.links) == (SAME_ID, []) and "a chain of 0 links" in same.text()
    stale = find_path(db, "anna", "ghost")
    assert stale.verdict == NO_CHAIN and "staging changed after the stitching tables were built" in stale.text()


def test_ids_split_by_a_link_exclusion_are_answered_with_the_entry(db: Db) -> None:
    answer = find_path(db, "rita", "sam-phone")
    assert (answer.verdict, answer.user_main_id, answer.in_one_profile) == (UNMERGED, None, False)
    assert (answer.first.user_main_id, answer.second.user_main_id) == (RITA, SAM)
    assert chain(answer) == [("rita", "family-tv", "e50"), ("family-tv", "sam", "e51"), ("sam", "sam-phone", "e52")]
    entry = ("anonymous_id 'family-tv', user_id 'sam' (reason: TICKET-7 shared tv; decided by alice on "
             "2026-11-10)")
    assert [link.unmerged_by for link in answer.links] == [(), (entry,), ()]
    text = answer.text()
    assert f"  - user_id 'rita' is in profile {RITA}\n  - anonymous_id 'sam-phone' is in profile {SAM}" in text
    assert ("A link exclusion split them: the shortest chain of identify links between them has 3 links, and "
            "stitching does not use the 1 marked NOT USED, unmerged by entries of "
            "dbt/seeds/stitch_link_exclusions.csv:") in text
    row = [event_id for *_, event_id, _ in EVENTS].index("e51")
    assert ("  2. anonymous_id 'family-tv' -> user_id 'sam'\n    identify event 'e51' of the js SDK at 2026-11-02 "
            f"00:00:00, landed in js/part-{row % 2}.csv row {row + 1}\n"
            f"    NOT USED: unmerged by the stitch_link_exclusions entry {entry}") in text
    assert answer.as_json()["links"][1]["unmerged_by"] == [entry]
    assert find_path(db, "rita", "carl").verdict == DIFFERENT_PROFILES  # no link exclusion between them


def test_chains_skip_the_links_and_events_stitching_does_not_use(db: Db) -> None:
    # the entry names e60 only: the link is made by e61
    assert chain(find_path(db, "tom", "uri")) == [("tom", "den-pc", "e61"), ("den-pc", "uri", "e62")]
    # b-tv - wes is unmerged, so the chain goes through wes-phone, and the profile has 3 links, not 4
    answer = find_path(db, "val", "wes")
    assert (answer.verdict, answer.profile_links) == (LINKED, 3)
    assert chain(answer) == [("val", "wes-phone", "e73"), ("wes-phone", "wes", "e72")]
    assert all(not link.unmerged_by for link in answer.links)


def test_a_warehouse_without_link_exclusions_is_answered_as_before(db: Db) -> None:
    db.execute("drop table stitching.int_id_link_exclusions")
    assert chain(find_path(db, "anna", "ben-phone")) == [("anna", "tablet", "e02"), ("tablet", "ben", "e03a"),
                                                         ("ben", "ben-phone", "e04")]
    assert chain(find_path(db, "tom", "uri")) == [("tom", "den-pc", "e60"), ("den-pc", "uri", "e62")]
    assert find_path(db, "rita", "sam-phone").verdict == DIFFERENT_PROFILES


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"id_value": "dual", "other_id": "anna"}, "id 'dual' exists as both user_id and anonymous_id: set id_type"),
    ({"id_value": "anna", "other_id": "dual"}, "set other_id_type"),
    ({"id_value": "anna", "other_id": "ben", "max_links": 6},
     f"profile {A} has more than 6 links, more than this search takes (max_links)"),
])
def test_requests_that_cannot_be_answered_are_refused(db: Db, kwargs: dict, message: str) -> None:
    with pytest.raises(InvestigationError) as err:
        find_path(db, **kwargs)
    assert message in str(err.value)
    assert find_path(db, "dual", "dual", "user_id", "user_id").verdict == SAME_ID


@functools.cache
def _dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "stitching_investigation.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["stitching_investigation"]


def _refusal(conf: dict) -> str | None:
    """What Airflow refuses the run conf with (trigger form, REST API, `dags test -c`), as tests/deploy does."""
    from airflow.sdk.definitions.param import ParamsDict

    params = ParamsDict(_dag().params)
    try:
        for key, value in conf.items():
            params[key] = value
        params.validate()
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def test_the_dag_params_refuse_a_bad_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    assert _refusal({"id": "anna", "other_id": "x'; drop table t; --", "other_id_type": "user_id"}) is None
    for conf in ({"other_id_type": "email"}, {"other_id": "x" * 513}, {"max_links": 0}, {"max_links": "9"}):
        refused = _refusal(conf)
        assert refused and next(iter(conf)) in refused, (conf, refused)
    # Airflow validates each param alone: a combination is refused by the task, before any warehouse is opened.
    monkeypatch.setenv("C360_DUCKDB_PATH", str(tmp_path / "absent.duckdb"))
    monkeypatch.delenv("C360_TARGET", raising=False)
    for conf, message in [
        ({"id": "anna", "other_id_type": "user_id"}, "other_id_type is set but other_id is empty"),
        ({"user_main_id": A, "other_id": "ben"}, "give it with 'id' (and optional 'id_type'), not with 'user_main_id'"),
        ({"other_id": "ben"}, "other_id needs 'id'"),
    ]:
        assert _refusal(conf) is None
        with pytest.raises(AirflowFailException) as err:
            run_path(conf, "manual__x")
        assert str(err.value).startswith("Cannot investigate: ") and message in str(err.value), err.value
        with pytest.raises(InvestigationError):
            validate_path_request(conf.get("id"), None, conf.get("other_id"), conf.get("other_id_type"),
                                  conf.get("user_main_id"))
    assert not (tmp_path / "absent.duckdb").exists()


# audit.stitching_investigations as the first release made it
FIRST_REPORT_DDL = (
    "create schema if not exists audit",
    "create table audit.stitching_investigations (investigation_run_id varchar, requested varchar, "
    "user_main_id varchar, ids bigint, user_ids bigint, anonymous_ids bigint, linking_events bigint, "
    "bridge_ids varchar, suggested_fix varchar, report_markdown varchar, created_at timestamp)",
)


def test_the_task_logs_the_chain_and_records_it_beside_older_reports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        build(Db(con))
        # a table of the first release, with a report in it
        Db(con).script(FIRST_REPORT_DDL)
        con.execute("insert into audit.stitching_investigations values ('old', 'user_id anna', ?, 8, 3, 5, 7, '[]', "
                    "'none', '# old', timestamp '2026-10-30 10:00:00')", [A])
    monkeypatch.setenv("C360_DUCKDB_PATH", str(path))
    monkeypatch.delenv("C360_TARGET", raising=False)
    with caplog.at_level(logging.INFO, logger="include.oncall.id_path"):
        returned = run_path({"id": "anna", "id_type": "user_id", "other_id": "ben-phone", "max_links": 100},
                            "manual__path")
    assert returned["verdict"] == LINKED and [link["event_id"] for link in returned["links"]] == ["e02", "e03a", "e04"]
    json.dumps(returned)  # an XCom
    assert "  3. user_id 'ben' -> anonymous_id 'ben-phone'" in caplog.text
    with connect_warehouse() as db:  # the profile report still records, after the columns were added
        record_report(db, "manual__profile", investigate(db, "anna", "user_id"))
        rows = db.dicts("select * from audit.stitching_investigations order by created_at")
    assert [(r["investigation_run_id"], r["kind"], r["verdict"]) for r in rows] == [
        ("old", None, None), ("manual__path", "path", LINKED), ("manual__profile", "profile", None)]
    assert rows[0]["report_markdown"] == "# old" and rows[2]["ids"] == 8
    recorded = rows[1]
    assert (recorded["requested"], recorded["user_main_id"], recorded["ids"], recorded["linking_events"]) == (
        "path: user_id 'anna' and anonymous_id 'ben-phone'", A, 8, 3)
    assert recorded["report_markdown"].startswith("Why are user_id 'anna' and anonymous_id 'ben-phone'")
    assert json.loads(recorded["answer_json"]) == returned


REQUESTS = [
    ("anna", "ben-phone", "user_id", None), ("uma", "vic", None, None), ("anna", "carl", None, None),
    ("anna", "kiosk-1", None, None), ("nobody", "anna", None, None), (QUOTED_USER, QUOTED_OTHER, None, None),
    ("rita", "sam-phone", None, None), ("tom", "uri", None, None), ("val", "wes", None, None),
]


def test_the_snowflake_emulator_gives_the_same_answers(
        db: Db, snowflake_target, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = snowflake_target.connection()
    connection["extra"]["database"] = "c360_id_path"  # its own database on the session's emulator
    monkeypatch.setenv("AIRFLOW_CONN_SNOWFLAKE_DEFAULT", json.dumps(connection))
    with connect_warehouse() as sf:
        build(sf)
        sf.script(FIRST_REPORT_DDL)  # the columns are added on Snowflake too
        on_snowflake = [find_path(sf, *request) for request in REQUESTS]
    returned = run_path({"id": "anna", "other_id": "ben-phone", "id_type": "user_id"}, "manual__sf")
    with connect_warehouse() as sf:
        recorded = sf.dicts("select kind, verdict, answer_json from audit.stitching_investigations")
    on_duckdb = [find_path(db, *request) for request in REQUESTS]
    assert [a.text() for a in on_snowflake] == [a.text() for a in on_duckdb]
    assert [a.as_json() for a in on_snowflake] == [a.as_json() for a in on_duckdb]
    assert on_snowflake == on_duckdb
    assert returned == on_duckdb[0].as_json()
    assert [(r["kind"], r["verdict"], json.loads(r["answer_json"])) for r in recorded] == [("path", LINKED, returned)]
