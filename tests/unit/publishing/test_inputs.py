"""A build's inputs fingerprint and the run it spares (nothing new since the published build), on both
targets. The whole DAG skipping such a run is in tests/e2e/test_dq_gate_runs.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.publishing.build import NothingNew, plan_build, run_build
from include.publishing.inputs import inputs_fingerprint
from include.publishing.publish import publish
from include.quality.report import RESULTS_DDL
from include.warehouse.db import Db
from tests.unit.publishing.test_publish import build_layers, judge

VALUES = {"C360_REFERENCE_DATE": "2026-12-03", "C360_STITCH_MAX_USER_IDS_PER_ANONYMOUS_ID": "5"}


@pytest.fixture
def db(either_warehouse: Db) -> Db:
    either_warehouse.script([*RESULTS_DDL, "create schema if not exists audit",
                             "create table audit.load_batches (source varchar, file_name varchar, "
                             "content_sha256 varchar, is_current boolean)"])
    either_warehouse.execute_many("insert into audit.load_batches values (?, ?, ?, ?)",
                                  [("orders", "part-0.csv", "aa", True), ("orders", "part-1.csv", "bb", True)])
    return either_warehouse


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "models" / "a.sql").write_text("select 1")
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    return project


def test_the_fingerprint_changes_with_every_input_and_nothing_else(db: Db, project: Path) -> None:
    first = inputs_fingerprint(db, VALUES, project)
    assert inputs_fingerprint(db, dict(reversed(VALUES.items())), project) == first
    (project / "target" / "manifest.json").write_text('{"parsed": 2}')  # dbt's output, not an input
    assert inputs_fingerprint(db, VALUES, project) == first

    assert inputs_fingerprint(db, {**VALUES, "C360_REFERENCE_DATE": "2026-12-04"}, project) != first
    (project / "models" / "a.sql").write_text("select 2")
    assert inputs_fingerprint(db, VALUES, project) != first
    (project / "models" / "a.sql").write_text("select 1")
    db.execute("insert into audit.load_batches values ('orders', 'part-0.csv', 'cc', false)")
    assert inputs_fingerprint(db, VALUES, project) == first  # a batch no longer current
    db.execute("update audit.load_batches set content_sha256 = 'dd' where file_name = 'part-1.csv'")
    assert inputs_fingerprint(db, VALUES, project) != first


def test_a_run_with_the_published_builds_inputs_builds_nothing(db: Db, project: Path) -> None:
    same = inputs_fingerprint(db, VALUES, project)
    colour = plan_build(db, "r1", same)
    build_layers(db, colour, ["ann"])
    judge(db, "r1", "pass")
    publish(db, "r1")

    with pytest.raises(NothingNew, match=r"nothing new since run r1: .* readers keep it"):
        plan_build(db, "r2", same)
    with pytest.raises(LookupError):
        run_build(db, "r2")  # nothing recorded
    assert plan_build(db, "r3", same, rebuild=True) == "green"  # full_refresh builds anyway
    assert plan_build(db, "r4", inputs_fingerprint(db, {**VALUES, "C360_REFERENCE_DATE": "2026-12-04"}, project))


def test_a_refused_build_with_the_same_inputs_does_not_spare_the_next_run(db: Db, project: Path) -> None:
    published = plan_build(db, "r1", "old inputs")
    build_layers(db, published, ["ann"])
    judge(db, "r1", "pass")
    publish(db, "r1")
    plan_build(db, "r2", "new inputs")
    judge(db, "r2", "fail")  # refused: readers stay on r1
    assert plan_build(db, "r3", "new inputs") == "green"
