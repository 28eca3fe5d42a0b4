"""`make run CONF=...`: the DAG params are checked by the DAG's own schemas before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from include.orchestration.run_local import BadConf, validated_conf
from tests.conftest import PROJECT_ROOT, airflow_env


def test_valid_params_pass_through_with_the_make_variable_as_default() -> None:
    conf = validated_conf('{"reference_date": "2026-10-28", "full_refresh": true}', 500)
    assert conf == {"num_customers": 500, "reference_date": "2026-10-28", "full_refresh": True}
    assert validated_conf('{"num_customers": 20}', 500)["num_customers"] == 20  # CONF wins


@pytest.mark.parametrize("conf,message", [
    ('{"num_customers": -5}', "num_customers"),
    ('{"reference_date": "28/10/2026"}', "'28/10/2026' is not a 'date'"),
    ('{"stitch_max_user_ids_per_anonymous_id": 0}', "stitch_max_user_ids_per_anonymous_id"),
    ('{"bogus": 1}', "unknown DAG param(s) bogus; customer_360 takes: source_dir"),
    ("not json", "CONF is not JSON"),
    ("[1, 2]", "CONF must be a JSON object"),
])
def test_a_bad_conf_is_refused_with_the_reason(conf: str, message: str) -> None:
    with pytest.raises(BadConf) as refused:
        validated_conf(conf, 500)
    assert message in str(refused.value)


def test_make_runs_driver_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    env = airflow_env(tmp_path / "airflow", warehouse)
    proc = subprocess.run([sys.executable, "-m", "include.orchestration.run_local", "--conf", '{"num_customers": -5}'],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("refused: Invalid input for param num_customers"), proc.stderr[-2000:]
    assert not warehouse.exists() and not (tmp_path / "airflow" / "airflow.db").exists()  # no run, no data
