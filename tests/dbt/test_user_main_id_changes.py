"""stitching.user_main_id_changes on real dbt and DuckDB: three runs built in colours and published as
the DAG does (plan, build, gate row, publish). The second run merges two profiles and splits one (a
device crosses the super-connector limit); the third changes nothing. The expected rows are computed
here from the two published graphs, independently of the SQL."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from include.publishing.build import plan_build
from include.publishing.publish import publish
from include.quality.report import RESULTS_DDL
from include.warehouse.db import Db
from tests.support.stitching_fixtures import Dataset, copy_project, read_table, run_dbt, write_dataset

pytestmark = pytest.mark.slow

FIRST = Dataset(
    js=[("anna-laptop", "anna"), ("ben-phone", "ben"), ("kiosk", "carl"), ("kiosk", "dora")],
    ruby=[("anna-phone", "anna")],
)
# anna and ben share a tablet (a merge); the kiosk reaches 6 user_ids, over the limit of 5, so it is
# excluded and carl and dora part (a split).
SECOND = Dataset(
    js=[*FIRST.js, ("tablet", "anna"), ("tablet", "ben"), *[("kiosk", f"visitor-{i}") for i in range(4)]],
    ruby=FIRST.ruby,
)


def graph(db_path: Path) -> dict[tuple[str, str], str]:
    return {(t, i): m for i, t, m in read_table(
        db_path, "select other_id, other_id_type, user_main_id from stitching.user_id_stitcher")}


def expected_changes(before: dict, after: dict) -> set[tuple[str, str, str, int]]:
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for node, previous in before.items():
        if node in after:
            pairs[(previous, after[node])] += 1
    fan_out, fan_in = defaultdict(set), defaultdict(set)
    for previous, current in pairs:
        fan_out[previous].add(current)
        fan_in[current].add(previous)
    return {(p, c, "split" if len(fan_out[p]) > 1 else "merged" if len(fan_in[c]) > 1 else "renamed", n)
            for (p, c), n in pairs.items() if p != c}


def run(project: Path, db_path: Path, data: Dataset, run_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(db_path, data)
    with duckdb.connect(str(db_path)) as con:
        db = Db(con)
        db.script(RESULTS_DDL)
        colour = plan_build(db, run_id)
    monkeypatch.setenv("C360_BUILD_COLOUR", colour)
    monkeypatch.setenv("C360_AIRFLOW_RUN_ID", run_id)
    outcome = run_dbt(project, db_path, "build")
    assert outcome.success, outcome.failures
    with duckdb.connect(str(db_path)) as con:
        db = Db(con)
        # The project copy has no marts or analytics; publish wants every published layer built.
        for layer in ("marts", "analytics"):
            db.execute(f"create schema if not exists {layer}__{colour}")
            db.execute(f"create or replace table {layer}__{colour}.with_user_id (user_id varchar)")
        db.execute("insert into audit.dq_gate_results (run_id, check_name, layer, status) values (?, 'c', 'x', 'pass')",
                   (run_id,))
        publish(db, run_id)


def changes(db_path: Path) -> dict[str, set[tuple]]:
    found = defaultdict(set)
    for run_id, *row in read_table(db_path, "select run_id, previous_user_main_id, user_main_id, change, ids_moved "
                                            "from stitching.user_main_id_changes"):
        found[run_id].add(tuple(row))
    return found


def test_merges_and_splits_are_kept_per_published_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, db_path = copy_project(tmp_path / "dbt"), tmp_path / "warehouse.duckdb"
    run(project, db_path, FIRST, "r1", monkeypatch)
    first = graph(db_path)
    assert changes(db_path) == {}  # nothing was published before: nothing was renamed
    assert first[("user_id", "carl")] == first[("user_id", "dora")]

    run(project, db_path, SECOND, "r2", monkeypatch)
    second = graph(db_path)
    assert second[("user_id", "anna")] == second[("user_id", "ben")]
    assert second[("user_id", "carl")] != second[("user_id", "dora")]
    recorded = changes(db_path)
    assert set(recorded) == {"r2"}
    assert recorded["r2"] == expected_changes(first, second)
    kinds = {row[2] for row in recorded["r2"]}
    assert kinds == {"merged", "split"}, recorded

    run(project, db_path, SECOND, "r3", monkeypatch)
    assert graph(db_path) == second
    assert set(changes(db_path)) == {"r2"}  # no membership changed: no rows
