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

from include import settings
from include.orchestration import cosmos_patches, dbt_profiles
from include.orchestration.pipeline_config import Layer

# Templated per run. They reach dbt as environment variables that dbt_project.yml's vars read, not as
# --vars: a change of --vars makes dbt discard partial parsing, so every dbt invocation of every run
# would re-parse the whole project; a changed env_var() re-parses only the few files that read it.
RUN_ENV = {
    "C360_AIRFLOW_RUN_ID": "{{ run_id }}",
    "C360_REFERENCE_DATE": "{{ params.reference_date or ds }}",
    "C360_STITCH_MAX_USER_IDS_PER_ANONYMOUS_ID": "{{ params.stitch_max_user_ids_per_anonymous_id }}",
    "C360_STITCH_MAX_ANONYMOUS_IDS_PER_USER_ID": "{{ params.stitch_max_anonymous_ids_per_user_id }}",
    # The colour the run builds the published layers in (its plan_build task; include/publishing).
    "C360_BUILD_COLOUR": "{{ ti.xcom_pull(task_ids='plan_build') or '' }}",
}
# The values among them that change what dbt builds (part of a build's inputs, include/publishing/inputs.py).
BUILD_VALUES = {name: value for name, value in RUN_ENV.items()
                if name not in ("C360_AIRFLOW_RUN_ID", "C360_BUILD_COLOUR")}

# The manifest comes from `dbt parse` at set-up (make, Dockerfile): the scheduler never runs dbt ls.
PROJECT_CONFIG = ProjectConfig(
    dbt_project_path=settings.DBT_PROJECT_DIR,
    manifest_path=settings.DBT_MANIFEST,
    project_name="c360",
    install_dbt_deps=False,
    env_vars={**dbt_profiles.dbt_env_vars(), **RUN_ENV},
)
cosmos_patches.use_local_manifest_path(PROJECT_CONFIG, settings.DBT_MANIFEST)

# Chosen when the DAG file is parsed (C360_TARGET): DuckDB reads dbt/profiles.yml, Snowflake builds
# the profile from an Airflow connection when a task runs.
PROFILE_CONFIG = dbt_profiles.profile_config()

EXECUTION_MODES = {"local": ExecutionMode.LOCAL, "watcher": ExecutionMode.WATCHER}


def execution_config(mode: str) -> ExecutionConfig:
    """watcher: one `dbt build` per layer (the producer) and a sensor per model and per model's tests;
    local: one dbt invocation per model and per model's tests. Per-model tasks run dbt in-process (less
    start-up); the producer runs a subprocess (in-process, Cosmos makes each model of the build slower).
    Figures: docs/benchmarks.md. CAUTIOUS keeps a test with several parents from running before all of
    them are built: the test tasks get it from test_indirect_selection, the producer's build needs it given."""
    cautious = TestIndirectSelection.CAUTIOUS
    producer_args = {"indirect_selection": cautious.value, "invocation_mode": InvocationMode.SUBPROCESS}
    return ExecutionConfig(
        execution_mode=EXECUTION_MODES[mode],
        invocation_mode=InvocationMode.DBT_RUNNER,
        dbt_executable_path=settings.DBT_EXECUTABLE,
        test_indirect_selection=cautious,
        setup_operator_args=producer_args if mode == "watcher" else None,
    )


def operator_args() -> dict[str, Any]:
    args: dict[str, Any] = {"full_refresh": "{{ params.full_refresh }}", "append_env": True,
                            "pre_execute": cosmos_patches.cache_per_build_colour}
    if settings.DUCKDB_POOL:
        args["pool"] = settings.DUCKDB_POOL
    return args


def layer_task_group(layer: Layer, mode: str) -> DbtTaskGroup:
    """One Cosmos task group per dbt layer, a task per model and one per model's tests; models retry as
    the layer says, tests never (a failing test fails at once: the data will not change). mode is a
    key of EXECUTION_MODES."""
    group = DbtTaskGroup(
        group_id=layer.name,
        project_config=PROJECT_CONFIG,
        profile_config=PROFILE_CONFIG,
        execution_config=execution_config(mode),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=list(layer.select),
            test_behavior=TestBehavior.AFTER_EACH,
            # Nothing is scheduled on these assets, and registering one per model costs every task time.
            emit_datasets=False,
        ),
        operator_args=operator_args(),
        default_args={"retries": layer.retry.retries, "retry_delay": layer.retry.retry_delay},
    )
    # Cosmos internals, each explained in cosmos_patches.
    cosmos_patches.tests_never_retry(group)
    cosmos_patches.share_partial_parse_cache(group)
    if mode == "watcher":
        cosmos_patches.producer_retries_once(group)
        cosmos_patches.sensors_after_producer(group)
    return group
