"""Cosmos configuration, built once: how every dbt layer of the DAG is rendered and run."""

from __future__ import annotations

from typing import Any

from cosmos import (
    DbtTaskGroup,
    ExecutionConfig,
    ExecutionMode,
    InvocationMode,
    LoadMode,
    ProjectConfig,
    RenderConfig,
    TestBehavior,
)
from cosmos.constants import TestIndirectSelection
from cosmos.operators.local import DbtTestLocalOperator

from include import settings, targets
from include.pipeline_config import Layer

# The manifest comes from `dbt parse` at set-up (make, Dockerfile): the scheduler never runs dbt ls.
PROJECT_CONFIG = ProjectConfig(
    dbt_project_path=settings.DBT_PROJECT_DIR,
    manifest_path=settings.DBT_MANIFEST,
    project_name="c360",
    install_dbt_deps=False,
    env_vars=targets.dbt_env_vars(),
)

# Chosen when the DAG file is parsed (C360_TARGET): DuckDB reads dbt/profiles.yml, Snowflake builds
# the profile from an Airflow connection when a task runs.
PROFILE_CONFIG = targets.profile_config()

# In-process dbtRunner is about twice as fast as a dbt subprocess per task. CAUTIOUS keeps a test
# with several parents from running before all of them are built.
EXECUTION_CONFIG = ExecutionConfig(
    execution_mode=ExecutionMode.LOCAL,
    invocation_mode=InvocationMode.DBT_RUNNER,
    test_indirect_selection=TestIndirectSelection.CAUTIOUS,
)

# Templated per run: params become dbt vars, so thresholds and the reference date are per run.
DBT_VARS = {
    "airflow_run_id": "{{ run_id }}",
    "reference_date": "{{ params.reference_date or ds }}",
    "stitch_max_user_ids_per_anonymous_id": "{{ params.stitch_max_user_ids_per_anonymous_id }}",
    "stitch_max_anonymous_ids_per_user_id": "{{ params.stitch_max_anonymous_ids_per_user_id }}",
}


def operator_args() -> dict[str, Any]:
    args: dict[str, Any] = {
        "vars": DBT_VARS,
        "full_refresh": "{{ params.full_refresh }}",
        "append_env": True,
    }
    if settings.DUCKDB_POOL:
        args["pool"] = settings.DUCKDB_POOL
    return args


def layer_task_group(layer: Layer) -> DbtTaskGroup:
    """One Cosmos task group per dbt layer: a run task and a test task per model, with the layer's
    retries on models and none on tests."""
    group = DbtTaskGroup(
        group_id=layer.name,
        project_config=PROJECT_CONFIG,
        profile_config=PROFILE_CONFIG,
        execution_config=EXECUTION_CONFIG,
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=list(layer.select),
            test_behavior=TestBehavior.AFTER_EACH,
        ),
        operator_args=operator_args(),
        default_args={"retries": layer.retry.retries, "retry_delay": layer.retry.retry_delay},
    )
    for task in group.iter_tasks():
        if isinstance(task, DbtTestLocalOperator):
            task.retries = 0
    return group
