"""stitching_rule_preview on a real customer_360 warehouse (Airflow, dbt, DuckDB): a proposed threshold
is built out of readers' sight and reported against the published graph; nothing published changes."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import WarehouseRun, airflow_env, run_airflow
from tests.e2e.test_dq_gate_runs import published_hashes

pytestmark = pytest.mark.slow

PROPOSAL = {"stitch_max_user_ids_per_anonymous_id": 1}


@pytest.fixture(scope="module")
def preview(duckdb_run: WarehouseRun, airflow_home: Path) -> tuple[str, dict, dict, dict]:
    env = airflow_env(airflow_home, duckdb_run.warehouse)
    before = published_hashes(duckdb_run.warehouse)
    proc = run_airflow(env, "dags", "test", "stitching_rule_preview", "-c", json.dumps(PROPOSAL))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    with duckdb.connect(str(duckdb_run.warehouse), read_only=True) as con:
        answer = json.loads(con.execute("select answer_json from audit.stitching_investigations "
                                        "where kind = 'preview' order by created_at desc limit 1").fetchone()[0])
    return proc.stdout + proc.stderr, answer, before, published_hashes(duckdb_run.warehouse)


def test_a_preview_changes_nothing_published(preview) -> None:
    _, _, before, after = preview
    assert before and after == before


def test_a_lower_limit_excludes_exactly_the_devices_over_it(preview, duckdb_run: WarehouseRun) -> None:
    output, answer, _, _ = preview
    with duckdb.connect(str(duckdb_run.warehouse), read_only=True) as con:
        # Independently of the models: published anonymous_ids linked to more than one user_id.
        over = {a for (a,) in con.execute("""
            select i.anonymous_id from staging.stg_rudderstack__identifies as i
            where i.user_id is not null and i.anonymous_id in (
                select other_id from stitching.user_id_stitcher where other_id_type = 'anonymous_id')
            group by i.anonymous_id having count(distinct i.user_id) > 1""").fetchall()}
        users = con.execute("select count(*) from marts.with_user_id").fetchone()[0]
    newly = {r["other_id"] for r in answer["newly_excluded"] if r["other_id_type"] == "anonymous_id"}
    assert over and newly == over
    assert {r["reason"] for r in answer["newly_excluded"]} == {"super_connector"}
    assert answer["split"] >= 1 and answer["merged"] == 0 and answer["let_back_in"] == []
    assert 0 < answer["feature_rows_changed"] <= users == answer["feature_rows"]
    assert answer["largest_after"][0]["id_count"] <= answer["largest_before"][0]["id_count"]
    assert "Stitching rule preview" in output and "nothing published changed" in output


def test_a_malformed_proposal_is_refused_before_anything_runs(duckdb_run: WarehouseRun, airflow_home: Path) -> None:
    env = airflow_env(airflow_home, duckdb_run.warehouse)
    proc = run_airflow(env, "dags", "test", "stitching_rule_preview", "-c",
                       json.dumps({"exclude_ids": [{"id": "x", "id_type": "email"}]}))
    assert proc.returncode != 0
    assert "exclude_ids" in proc.stdout + proc.stderr
