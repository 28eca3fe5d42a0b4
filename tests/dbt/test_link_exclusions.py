"""Unmerge by link: the stitch_link_exclusions seed, end to end through real dbt on real DuckDB.

A small dataset of identify events (all of the js SDK, so row i is event `js-<i>` at START + i seconds)
holds one case per behaviour: a shared device whose one link joins two people, an event-limited entry,
time ranges, overlapping entries, a super-connector. One build with good entries is compared with the
networkx reference; builds with bad entries must be refused, naming each entry, before any link is built.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from include.oncall.id_path import LINKED, UNMERGED, find_path
from tests.support.stitching_fixtures import (
    Dataset,
    actual_excluded,
    actual_stitch,
    copy_project,
    partition,
    read_table,
    reference,
    run_dbt,
    run_on_emulator,
    write_dataset,
    write_link_exclusions,
)

pytestmark = pytest.mark.slow  # dbt builds of the staging and stitching layers

START = datetime(2024, 1, 1)
ROWS: list[tuple[str, str]] = []


def event(anonymous_id: str, user_id: str) -> str:
    """Adds an identify event linking the two ids; returns its event id."""
    ROWS.append((anonymous_id, user_id))
    return f"js-{len(ROWS) - 1}"


def at(event_id: str, seconds: int = 0) -> str:
    """The time of an event (plus some seconds), as the seed's timestamps are written."""
    return f"{START + timedelta(seconds=int(event_id.split('-')[1]) + seconds):%Y-%m-%d %H:%M:%S}"


# a shared tablet: its links to bob (two events) are the only way from ann's ids to bob's
event("ann-phone", "ann")
event("tablet", "ann")
event("tablet", "bob")
event("tablet", "bob")
event("bob-phone", "bob")
# event-limited: the pair (shared-pc, fred) has two events, one entry names the first only
event("shared-pc", "eve")
FRED_1, FRED_2 = event("shared-pc", "fred"), event("shared-pc", "fred")
# ... and (shared-pc2, hugo) has one event, which an entry names: that link is gone
event("shared-pc2", "gil")
HUGO = event("shared-pc2", "hugo")
# time ranges (inclusive): all three events of (lab-pc, jon) lie in [first, last]
event("lab-pc", "ida")
JON = [event("lab-pc", "jon") for _ in range(3)]
event("lab-pc2", "kim")
LEO_EARLY = event("lab-pc2", "leo")
event("filler-a", "filler-u")
LEO_LATE = event("lab-pc2", "leo")  # after valid_to
event("lab-pc3", "max")
NED_EARLY = event("lab-pc3", "ned")  # before valid_from
NED_LATE = event("lab-pc3", "ned")
OLI = event("lab-pc4", "oli")
# overlapping entries on one pair: the whole pair and one of its events
PAT = [event("pad-tv", "pat"), event("pad-tv", "pat")]
event("pad-tv", "quin")
# a super-connector stays one after one of its links is unmerged: link counts come before any exclusion
for i in range(6):
    event("kiosk", f"ku{i}")

DATASET = Dataset(js=list(ROWS), order_user_ids=["ann", "order-only"])

GOOD_ENTRIES = [
    {"anonymous_id": "tablet", "user_id": "bob", "reason": "shared family tablet, TICKET-1"},
    {"anonymous_id": "shared-pc", "user_id": "fred", "event_id": FRED_1, "reason": "one bad event"},
    {"anonymous_id": "shared-pc2", "user_id": "hugo", "event_id": HUGO},
    {"anonymous_id": "lab-pc", "user_id": "jon", "valid_from": at(JON[0]), "valid_to": at(JON[-1])},
    {"anonymous_id": "lab-pc2", "user_id": "leo", "valid_to": at(LEO_EARLY, 1)},
    {"anonymous_id": "lab-pc3", "user_id": "ned", "valid_from": at(NED_LATE)},
    {"anonymous_id": "lab-pc4", "user_id": "oli", "valid_from": "2030-01-01"},
    {"anonymous_id": " pad-tv ", "user_id": "pat", "decided_by": " alice "},  # trimmed
    {"anonymous_id": "pad-tv", "user_id": "pat", "event_id": PAT[0]},
    {"anonymous_id": "kiosk", "user_id": "ku0"},
]
# the links no event makes any more
UNMERGED_LINKS = {("tablet", "bob"), ("shared-pc2", "hugo"), ("lab-pc", "jon"), ("pad-tv", "pat"), ("kiosk", "ku0")}

STAGING = ["+stg_rudderstack__identifies", "+stg_shop__orders"]
STITCHING = ["stitch_exclusion_list", "stitch_link_exclusions", "path:models/stitching"]
SEED_TESTS = [
    "stitch_link_exclusions_anonymous_id_not_blank", "stitch_link_exclusions_user_id_not_blank",
    "stitch_link_exclusions_reason_not_blank", "stitch_link_exclusions_decided_by_not_blank",
    "stitch_link_exclusions_decided_at_not_null", "stitch_link_exclusions_valid_from_not_after_valid_to",
    "stitch_link_exclusions_no_duplicate_entry",
]
LINK_TESTS = ["stitch_link_exclusions_link_is_known", "stitch_link_exclusions_no_duplicate_entry_trimmed"]


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dataset with only staging built: each case below builds the stitching layer on a copy."""
    base = tmp_path_factory.mktemp("link_exclusions")
    db = base / "staged.duckdb"
    write_dataset(db, DATASET)
    outcome = run_dbt(copy_project(base / "dbt"), db, "build", select=STAGING)
    assert outcome.success, "\n".join(outcome.failures)
    return db


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt build` of staging and stitching (the seed comes in as an ancestor) with the good entries."""
    base = tmp_path_factory.mktemp("link_exclusions_good")
    db = base / "warehouse.duckdb"
    write_dataset(db, DATASET)
    outcome = run_dbt(copy_project(base / "dbt", link_exclusions=GOOD_ENTRIES), db, "build")
    assert outcome.success, "\n".join(outcome.failures)
    return db


def build_stitching(staged: Path, tmp_path: Path, entries: list[dict[str, str]]):
    """The stitching layer built on a copy of the staged warehouse with these entries."""
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(staged)) as con:  # dbt's handle may still hold the last writes in the WAL
        con.execute("checkpoint")
    shutil.copy2(staged, db)
    project = copy_project(tmp_path / "dbt")
    write_link_exclusions(project, entries)
    return db, run_dbt(project, db, "build", select=STITCHING)


def exists(db: Path, schema: str, table: str) -> bool:
    return bool(read_table(db, f"select 1 from information_schema.tables where table_schema = '{schema}' "
                               f"and table_name = '{table}'"))


def failing_rows(db: Path, test: str) -> list[str]:
    """The failing rows dbt kept for a test (store_failures), each as one string."""
    return [" | ".join(map(str, row)) for row in read_table(db, f"select * from dbt_test__audit.{test}")]


def statuses(outcome) -> dict[str, str]:
    return {line.split(": ")[0]: line.split(": ")[1] for line in outcome.failures if ": " in line}


def assert_stitching_not_built(db: Path, outcome, refused_by: list[str]) -> None:
    """A refused entry stops every model that reads links: nothing of the graph is written, and nothing
    but the refusing nodes failed."""
    assert {n for n, status in statuses(outcome).items() if status != "skipped"} == set(refused_by), outcome.failures
    for model in ("int_id_links", "int_anonymous_id_owners", "int_id_components", "user_id_stitcher",
                  "stitch_link_exclusion_effect"):
        assert not exists(db, "stitching", model), model
        assert statuses(outcome).get(model) == "skipped", (model, outcome.failures)


# --- good entries ---------------------------------------------------------------------------------------


def test_the_dataset_joins_what_the_entries_split() -> None:
    """Without entries each case is one profile: the splits below come from the seed."""
    before = reference(DATASET).user_main_id
    for a, b in [("ann", "bob"), ("gil", "hugo"), ("ida", "jon"), ("pat", "quin")]:
        assert before[("user_id", a)] == before[("user_id", b)], (a, b)


def test_partition_equals_networkx_without_the_unmerged_links(good_run: Path) -> None:
    expected = reference(DATASET, unmerged_links=UNMERGED_LINKS)
    stitched = actual_stitch(good_run)
    assert partition(stitched) == partition(expected.user_main_id)
    assert stitched == expected.user_main_id
    assert actual_excluded(good_run) == expected.excluded


def test_an_unmerged_link_splits_the_profile_it_alone_joined(good_run: Path) -> None:
    stitched = actual_stitch(good_run)
    profile = {i: stitched[("user_id" if i in ("ann", "bob") else "anonymous_id", i)]
               for i in ("ann", "ann-phone", "tablet", "bob", "bob-phone")}
    # the ids stay in the graph through their other links
    assert profile["ann"] == profile["ann-phone"] == profile["tablet"]
    assert profile["bob"] == profile["bob-phone"] != profile["ann"]


def test_an_event_limited_entry_removes_only_that_events_link(good_run: Path) -> None:
    stitched = actual_stitch(good_run)
    # (shared-pc, fred) still links through its second event
    assert stitched[("user_id", "fred")] == stitched[("user_id", "eve")] == stitched[("anonymous_id", "shared-pc")]
    # (shared-pc2, hugo) had only the event named
    assert stitched[("user_id", "hugo")] != stitched[("user_id", "gil")]
    links = read_table(good_run, """
        select a.other_id, u.other_id, l.event_count, l.unmerged_event_count, l.is_unmerged
        from stitching.int_id_links as l
        inner join stitching.int_id_nodes as a on l.anonymous_key = a.node_key
        inner join stitching.int_id_nodes as u on l.user_key = u.node_key
        where u.other_id in ('fred', 'hugo', 'pat', 'eve')""")
    assert sorted(links) == [("pad-tv", "pat", 2, 2, True), ("shared-pc", "eve", 1, 0, False),
                             ("shared-pc", "fred", 2, 1, False), ("shared-pc2", "hugo", 1, 1, True)]


def test_time_ranges_are_inclusive_and_honoured(good_run: Path) -> None:
    stitched = actual_stitch(good_run)
    assert stitched[("user_id", "jon")] != stitched[("user_id", "ida")]  # all three events in range
    assert stitched[("user_id", "leo")] == stitched[("user_id", "kim")]  # the later event is after valid_to
    assert stitched[("user_id", "ned")] == stitched[("user_id", "max")]  # the earlier one is before valid_from
    matched = dict(read_table(good_run, "select identify_event_id, is_match from stitching.int_id_link_exclusions "
                                        "where user_id in ('jon', 'leo', 'ned')"))
    assert matched == {**dict.fromkeys(JON, True), LEO_EARLY: True, LEO_LATE: False, NED_EARLY: False,
                       NED_LATE: True}


def test_a_super_connector_stays_excluded_when_one_of_its_links_is_unmerged(good_run: Path) -> None:
    assert actual_excluded(good_run)[("anonymous_id", "kiosk")] == "super_connector"
    stitched = actual_stitch(good_run)
    assert len({stitched[("user_id", f"ku{i}")] for i in range(6)}) == 6


def test_the_effect_table_counts_each_entrys_events(good_run: Path) -> None:
    rows = read_table(good_run, """
        select anonymous_id, user_id, event_id, pair_events, matched_events, pair_unmerged_events, effect,
               in_one_profile, reason, decided_by, decided_at
        from stitching.stitch_link_exclusion_effect""")
    effect = {(a, u, e): tuple(rest) for a, u, e, *rest in rows}
    assert len(rows) == len(GOOD_ENTRIES)
    unmerged, kept, none = "link_unmerged", "link_kept_by_other_events", "no_event_matched"
    assert {k: v[:5] for k, v in effect.items()} == {
        ("tablet", "bob", None): (2, 2, 2, unmerged, False),
        ("shared-pc", "fred", FRED_1): (2, 1, 1, kept, True),
        ("shared-pc2", "hugo", HUGO): (1, 1, 1, unmerged, False),
        ("lab-pc", "jon", None): (3, 3, 3, unmerged, False),
        ("lab-pc2", "leo", None): (2, 1, 1, kept, True),
        ("lab-pc3", "ned", None): (2, 1, 1, kept, True),
        ("lab-pc4", "oli", None): (1, 0, 0, none, True),
        ("pad-tv", "pat", None): (2, 2, 2, unmerged, False),
        ("pad-tv", "pat", PAT[0]): (2, 1, 2, unmerged, False),
        ("kiosk", "ku0", None): (1, 1, 1, unmerged, None),  # kiosk is excluded: in no profile
    }
    assert effect[("tablet", "bob", None)][5:] == ("shared family tablet, TICKET-1", "tests",
                                                   datetime(2024, 3, 1).date())
    assert effect[("pad-tv", "pat", None)][6] == "alice"


def test_the_path_helper_agrees_with_stitching(good_run: Path) -> None:
    with duckdb.connect(str(good_run)) as con:
        cut = find_path(con, "ann", "bob", "user_id", "user_id")
        limited = find_path(con, "eve", "fred", "user_id", "user_id")
    assert cut.verdict == UNMERGED
    assert [(link.from_node[1], link.to_node[1]) for link in cut.links] == [("ann", "tablet"), ("tablet", "bob")]
    assert "anonymous_id 'tablet', user_id 'bob'" in cut.text() and "shared family tablet, TICKET-1" in cut.text()
    # the chain takes the event no entry matched
    assert limited.verdict == LINKED
    assert [link.event_id for link in limited.links] == ["js-5", FRED_2]


def test_runs_on_snowflake_sql_via_fakesnow(tmp_path: Path, snowflake_emulator) -> None:
    """The same entries with dbt-snowflake on the Snowflake emulator (seed loaded through dbt-snowflake's
    inserts, not DuckDB's COPY): the same partition."""
    project = copy_project(tmp_path / "dbt", link_exclusions=GOOD_ENTRIES)
    stitched, excluded = run_on_emulator(snowflake_emulator, project, DATASET, database="c360_link_exclusions")
    expected = reference(DATASET, unmerged_links=UNMERGED_LINKS)
    assert stitched == expected.user_main_id
    assert excluded == expected.excluded


# --- bad entries ----------------------------------------------------------------------------------------


def test_bad_entries_are_refused_by_the_seed_tests_naming_each_entry(staged: Path, tmp_path: Path) -> None:
    good = {"anonymous_id": "tablet", "user_id": "bob", "reason": "good-entry"}
    bad = {
        "stitch_link_exclusions_anonymous_id_not_blank": {"anonymous_id": "  ", "user_id": "bob", "reason": "bad-1"},
        "stitch_link_exclusions_user_id_not_blank": {"anonymous_id": "tablet", "user_id": "", "reason": "bad-2"},
        "stitch_link_exclusions_reason_not_blank": {"anonymous_id": "tablet", "user_id": "ann", "reason": " ",
                                                    "decided_by": "bad-3"},
        "stitch_link_exclusions_decided_by_not_blank": {"anonymous_id": "ann-phone", "user_id": "ann",
                                                        "reason": "bad-4", "decided_by": " "},
        "stitch_link_exclusions_decided_at_not_null": {"anonymous_id": "bob-phone", "user_id": "bob",
                                                       "reason": "bad-5", "decided_at": ""},
        "stitch_link_exclusions_valid_from_not_after_valid_to": {
            "anonymous_id": "lab-pc", "user_id": "jon", "reason": "bad-6", "valid_from": "2024-02-01",
            "valid_to": "2024-01-31 23:59:59"},
        "stitch_link_exclusions_no_duplicate_entry": {"anonymous_id": "lab-pc", "user_id": "ida", "reason": "bad-7"},
    }
    entries = [good, *bad.values(), bad["stitch_link_exclusions_no_duplicate_entry"]]
    db, outcome = build_stitching(staged, tmp_path, entries)
    assert not outcome.success
    assert {t: statuses(outcome).get(t) for t in SEED_TESTS} == dict.fromkeys(SEED_TESTS, "fail")
    for number, test in enumerate(bad, 1):
        rows = failing_rows(db, test)
        # the whole row, or for a duplicate the entry's key and how often it occurs
        named = "lab-pc | ida | None | None | None | 2" if test.endswith("duplicate_entry") else f"bad-{number}"
        assert len(rows) == 1 and named in rows[0], (test, rows)
    assert_stitching_not_built(db, outcome, SEED_TESTS)
    assert not exists(db, "stitching", "int_id_link_exclusions")


def test_links_that_do_not_exist_and_trimmed_duplicates_are_refused(staged: Path, tmp_path: Path) -> None:
    entries = [
        {"anonymous_id": "tablet", "user_id": "bob"},  # good
        {"anonymous_id": "tablet", "user_id": "nobody"},  # both ids exist, the pair never occurs
        {"anonymous_id": "ghost-device", "user_id": "bob"},
        {"anonymous_id": "shared-pc", "user_id": "fred", "event_id": "js-9999"},  # no such event
        {"anonymous_id": "shared-pc", "user_id": "eve", "event_id": FRED_1},  # an event of another pair
        {"anonymous_id": "lab-pc", "user_id": "ida"},
        {"anonymous_id": " lab-pc", "user_id": "ida ", "reason": "the same link, padded"},
    ]
    db, outcome = build_stitching(staged, tmp_path, entries)
    assert not outcome.success
    assert {t: statuses(outcome).get(t) for t in SEED_TESTS + LINK_TESTS} == {
        **dict.fromkeys(SEED_TESTS, None), **dict.fromkeys(LINK_TESTS, "fail")}
    never = "its (anonymous_id, user_id) pair occurs in no identify event of staging.stg_rudderstack__identifies"
    other = "its event_id is not an identify event of this (anonymous_id, user_id) pair"
    assert sorted(failing_rows(db, "stitch_link_exclusions_link_is_known")) == [
        f"anonymous_id 'ghost-device', user_id 'bob' | {never}",
        f"anonymous_id 'shared-pc', user_id 'eve', event_id '{FRED_1}' | {other}",
        f"anonymous_id 'shared-pc', user_id 'fred', event_id 'js-9999' | {other}",
        f"anonymous_id 'tablet', user_id 'nobody' | {never}",
    ]
    lab_pc_ida = f"js-{ROWS.index(('lab-pc', 'ida'))}"
    assert failing_rows(db, "stitch_link_exclusions_no_duplicate_entry_trimmed") == [
        f"anonymous_id 'lab-pc', user_id 'ida' | js:{lab_pc_ida} | 2"]
    assert_stitching_not_built(db, outcome, LINK_TESTS)


@pytest.mark.parametrize(("column", "value"), [("valid_from", "next tuesday"), ("decided_at", "2024-13-01")])
def test_a_malformed_value_fails_the_load_naming_the_file(staged: Path, tmp_path: Path, column: str,
                                                         value: str) -> None:
    db, outcome = build_stitching(staged, tmp_path, [{"anonymous_id": "tablet", "user_id": "bob", column: value}])
    assert not outcome.success
    assert statuses(outcome).get("stitch_link_exclusions") == "error", outcome.failures
    assert "seeds/stitch_link_exclusions.csv" in outcome.output
    assert value in "\n".join(outcome.failures)
    assert_stitching_not_built(db, outcome, ["stitch_link_exclusions"])
