"""Target selection: C360_TARGET picks the warehouse when the DAG is parsed; for Snowflake the dbt profile
comes from an Airflow connection through Cosmos' Snowflake mappings, checked when a task runs."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from airflow.sdk import Param
from airflow.sdk.exceptions import ParamValidationError
from cosmos.profiles.snowflake.user_pass import SnowflakeUserPasswordProfileMapping
from cosmos.profiles.snowflake.user_privatekey import SnowflakePrivateKeyPemProfileMapping

from include import settings
from include.orchestration import dbt_profiles
from tests.conftest import PROJECT_ROOT

GOOD = {"conn_type": "snowflake", "login": "svc", "password": "pw", "schema": "PUBLIC",
        "extra": {"account": "org-acct", "database": "C360", "warehouse": "WH", "role": "C360_TRANSFORMER"}}


def _with_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, spec: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(spec))


def test_password_connection_gives_a_snowflake_profile_with_the_secret_in_the_environment(monkeypatch) -> None:
    _with_connection(monkeypatch, "snowflake_default", GOOD)
    mapping = dbt_profiles.SnowflakeConnectionProfileMapping("snowflake_default", {"threads": 8})

    profile = mapping.profile

    assert isinstance(mapping.delegate(), SnowflakeUserPasswordProfileMapping)
    assert profile["type"] == "snowflake" and profile["account"] == "org-acct" and profile["role"] == "C360_TRANSFORMER"
    assert profile["password"] == "{{ env_var('COSMOS_CONN_SNOWFLAKE_PASSWORD') }}"
    assert mapping.env_vars["COSMOS_CONN_SNOWFLAKE_PASSWORD"] == "pw"
    assert profile["threads"] == 8


def test_key_pair_connection_uses_the_private_key_mapping(monkeypatch) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
    spec = {**GOOD, "password": None, "extra": {**GOOD["extra"],
                                                "private_key_content": base64.b64encode(pem.encode()).decode()}}
    _with_connection(monkeypatch, "sf_keypair", spec)
    mapping = dbt_profiles.SnowflakeConnectionProfileMapping("sf_keypair")

    assert isinstance(mapping.delegate(), SnowflakePrivateKeyPemProfileMapping)
    assert mapping.env_vars["COSMOS_CONN_SNOWFLAKE_PRIVATE_KEY"] == pem


@pytest.mark.parametrize(("drop", "field", "where"), [
    ("password", "password", "connection field password"),
    ("warehouse", "warehouse", 'connection field extra "warehouse"'),
    ("account", "account", 'connection field extra "account"'),
    ("login", "user", "connection field login"),
])
def test_a_missing_field_is_named_with_the_connection(monkeypatch, drop: str, field: str, where: str) -> None:
    spec = json.loads(json.dumps(GOOD))
    if drop in spec["extra"]:
        del spec["extra"][drop]
    else:
        spec[drop] = None
    _with_connection(monkeypatch, "snowflake_prod", spec)
    mapping = dbt_profiles.SnowflakeConnectionProfileMapping("snowflake_prod")

    with pytest.raises(dbt_profiles.SnowflakeConnectionError) as error:
        _ = mapping.profile
    assert "'snowflake_prod'" in str(error.value)
    assert f"{field} ({where})" in str(error.value)


def test_a_missing_connection_or_the_wrong_type_is_named(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    with pytest.raises(dbt_profiles.SnowflakeConnectionError, match="'nowhere' cannot be read"):
        _ = dbt_profiles.SnowflakeConnectionProfileMapping("nowhere").profile
    _with_connection(monkeypatch, "pg", {**GOOD, "conn_type": "postgres"})
    with pytest.raises(dbt_profiles.SnowflakeConnectionError, match="'pg' has type 'postgres'"):
        _ = dbt_profiles.SnowflakeConnectionProfileMapping("pg").env_vars


def test_building_the_snowflake_profile_config_reads_no_connection(monkeypatch) -> None:
    monkeypatch.setenv("C360_SNOWFLAKE_CONN_ID", "not_created_yet")
    config = dbt_profiles.profile_config("snowflake")  # what the DAG file does at parse time
    assert config.target_name == "prod" and config.profile_mapping.conn_id == "not_created_yet"
    assert config.profiles_yml_filepath is None
    assert dbt_profiles.profile_config("duckdb").profiles_yml_filepath == settings.DBT_PROJECT_DIR / "profiles.yml"


def test_the_target_setting_is_validated(monkeypatch) -> None:
    monkeypatch.setenv("C360_TARGET", "Snowflake ")
    assert settings.target_name() == "snowflake"
    monkeypatch.setenv("C360_TARGET", "bigquery")
    with pytest.raises(ValueError, match=r"C360_TARGET='bigquery'"):
        settings.target_name()


def test_a_run_asking_for_another_target_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("C360_TARGET", "duckdb")
    from include.orchestration.params import dag_params

    param: Param = dag_params()["target"]
    assert param.resolve("duckdb") == "duckdb"
    with pytest.raises(ParamValidationError, match=r"'duckdb' was expected"):
        Param(param.value, **param.schema).resolve("snowflake")
    with pytest.raises(ValueError, match="does not match this deployment's target 'duckdb'"):
        dbt_profiles.check_requested_target("snowflake")
    dbt_profiles.check_requested_target("duckdb")


def test_the_snowflake_dag_renders_without_a_connection_or_the_duckdb_pool() -> None:
    code = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder="dags")
dag = bag.dags["customer_360"]
task = next(t for t in dag.tasks if t.task_id.startswith("staging."))
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "pools": sorted({t.pool for t in dag.tasks}),
    "mapping": type(task.profile_config.profile_mapping).__name__,
    "target": task.profile_config.target_name,
    "param": dag.params.get_param("target").schema,
}))
"""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "C360_TARGET": "snowflake",
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("AIRFLOW_CONN_SNOWFLAKE_DEFAULT", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["errors"] == {}
    assert seen["pools"] == ["default_pool"]
    assert seen["mapping"] == "SnowflakeConnectionProfileMapping" and seen["target"] == "prod"
    assert seen["param"]["const"] == "snowflake"
