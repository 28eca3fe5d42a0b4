"""The rule preview's comparison on both targets (DuckDB, and the Snowflake emulator through the
product's hook): a published graph and a preview graph written here, the report read back."""

from __future__ import annotations

from pathlib import Path

from include.oncall.rule_preview import PREVIEW_SCHEMA, Proposal, compare, prepare_project
from include.publishing.build import plan_build, reading
from include.warehouse.db import Db

A, B, C = "a" * 32, "b" * 32, "c" * 32
# Published: anna + ben share "kiosk" (one profile A); carl alone (C). Preview: the kiosk excluded, so
# anna keeps A and ben leaves for B; carl unchanged.
PUBLISHED = [(A, "anna", "user_id"), (A, "ben", "user_id"), (A, "kiosk", "anonymous_id"), (C, "carl", "user_id")]
PREVIEW = [(A, "anna", "user_id"), (B, "ben", "user_id"), (C, "carl", "user_id")]


def write_graph(db: Db, schema: str, rows: list[tuple], excluded: list[tuple], changes: list[tuple]) -> None:
    db.script([
        f"create schema if not exists {schema}",
        f"create table {schema}.user_id_stitcher (user_main_id varchar, other_id varchar, other_id_type varchar)",
        f"create table {schema}.excluded_ids (other_id varchar, other_id_type varchar, reason varchar)",
        f"create table {schema}.int_user_main_id_changes (previous_user_main_id varchar, user_main_id varchar, "
        "change varchar, ids_moved integer)",
    ])
    db.execute_many(f"insert into {schema}.user_id_stitcher values (?, ?, ?)", rows)
    db.execute_many(f"insert into {schema}.excluded_ids values (?, ?, ?)", excluded)
    db.execute_many(f"insert into {schema}.int_user_main_id_changes values (?, ?, ?, ?)", changes)
    db.execute(f"create table {schema}.int_profile_sizes as select user_main_id, count(*) as id_count, "
               "count(case when other_id_type = 'user_id' then 1 end) as user_id_count, "
               "count(case when other_id_type = 'anonymous_id' then 1 end) as anonymous_id_count "
               f"from {schema}.user_id_stitcher group by user_main_id")


def test_the_report_counts_splits_exclusions_and_feature_rows(either_warehouse: Db) -> None:
    db = either_warehouse
    colour = plan_build(db, "r1")
    db.execute("update audit.builds set published_at = current_timestamp")
    write_graph(db, f"stitching__{colour}", PUBLISHED, [("bot", "anonymous_id", "bot_pattern")], [])
    write_graph(db, PREVIEW_SCHEMA, PREVIEW, [("bot", "anonymous_id", "bot_pattern"),
                                              ("kiosk", "anonymous_id", "super_connector")],
                [(A, B, "split", 1)])
    proposal = Proposal(1, 100)
    report = compare(reading(db, "published"), db.with_schemas({"stitching": PREVIEW_SCHEMA}), "p1", proposal)
    assert (report.merged, report.split, report.renamed) == (0, 1, 0)
    assert [(r["other_id"], r["reason"]) for r in report.newly_excluded] == [("kiosk", "super_connector")]
    assert report.let_back_in == []
    # anna's profile lost the kiosk and ben, ben is in a new profile; carl's row stays as it is.
    assert (report.feature_rows, report.feature_rows_changed) == (3, 2)
    assert [(r["user_main_id"], r["id_count"]) for r in report.largest_before] == [(A, 3), (C, 1)]
    assert [r["id_count"] for r in report.largest_after] == [1, 1, 1]
    text = report.markdown()
    assert "split: **1**" in text and "kiosk" in text and "nothing published changed" in text


def test_proposed_entries_are_appended_to_the_copied_seeds(tmp_path: Path) -> None:
    proposal = Proposal(5, 100, ({"id": "kiosk, 7", "id_type": "anonymous_id"},),
                        ({"anonymous_id": "tablet", "user_id": "ben", "event_id": "e1"},))
    project = prepare_project(tmp_path / "dbt", proposal, "manual__1")
    ids = (project / "seeds" / "stitch_exclusion_list.csv").read_text().splitlines()
    assert ids[-1] == '"kiosk, 7",anonymous_id,preview manual__1'
    links = (project / "seeds" / "stitch_link_exclusions.csv").read_text().splitlines()
    assert links[-1].startswith("tablet,ben,e1,,,preview manual__1,preview manual__1,")
    assert not (project / "target").exists()
