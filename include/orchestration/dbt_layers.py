"""Cosmos configuration, built once: how every dbt layer of the DAG is rendered and run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import TaskGroup, TriggerRule
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
from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID, TestIndirectSelection
from cosmos.operators.local import DbtTestLocalOperator
from cosmos.operators.watcher import DbtTestWatcherOperator

from include import settings
from include.orchestration import dbt_profiles
from include.orchestration.pipeline_config import Layer

# Templated per run. They reach dbt as environment variables that dbt_project.yml's vars read, not as
# --vars: a change of --vars makes dbt discard partial parsing, so every dbt invocation of every run
# would re-parse the whole project; a changed env_var() re-parses only the few files that read it.
RUN_ENV = {
    "C360_AIRFLOW_RUN_ID": "{{ run_id }}",
    "C360_REFERENCE_DATE": "{{ params.reference_date or ds }}",
    "C360_STITCH_MAX_USER_IDS_PER_ANONYMOUS_ID": "{{ params.stitch_max_user_ids_per_anonymous_id }}",
    "C360_STITCH_MAX_ANONYMOUS_IDS_PER_USER_ID": "{{ params.stitch_max_anonymous_ids_per_user_id }}",
}

# The manifest comes from `dbt parse` at set-up (make, Dockerfile): the scheduler never runs dbt ls.
PROJECT_CONFIG = ProjectConfig(
    dbt_project_path=settings.DBT_PROJECT_DIR,
    manifest_path=settings.DBT_MANIFEST,
    project_name="c360",
    install_dbt_deps=False,
    env_vars={**dbt_profiles.dbt_env_vars(), **RUN_ENV},
)
# Cosmos wraps the manifest path in an ObjectStoragePath, whose first open loads every Airflow plugin
# (hook lineage): about 2 s of each DAG parse. The manifest is a local file.
PROJECT_CONFIG.manifest_path = settings.DBT_MANIFEST

# Chosen when the DAG file is parsed (C360_TARGET): DuckDB reads dbt/profiles.yml, Snowflake builds
# the profile from an Airflow connection when a task runs.
PROFILE_CONFIG = dbt_profiles.profile_config()

EXECUTION_MODES = {"local": ExecutionMode.LOCAL, "watcher": ExecutionMode.WATCHER}


def execution_config(mode: str) -> ExecutionConfig:
    """watcher: one `dbt build` per layer (a producer task) and a sensor task per model and per model's
    tests that reports that node's result; local: one in-process dbt invocation per model and per
    model's tests, about 2 s of fixed cost each. In-process dbtRunner is about twice as fast as a dbt
    subprocess for one small invocation, so the per-model tasks use it. The producer's `dbt build`
    runs as a subprocess: in-process, Cosmos turns every dbt event (debug ones included) into JSON to
    find the node results, which made each model of the build run twice as long (measured at 10k
    customers: 96 s of node time against 48 s for a plain `dbt build`); a subprocess prints only the
    info-level lines. CAUTIOUS keeps a test with several parents from running before all of them are
    built: the test tasks get it from test_indirect_selection, a producer's `dbt build` needs it given."""
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
    args: dict[str, Any] = {"full_refresh": "{{ params.full_refresh }}", "append_env": True}
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
    for task in group.iter_tasks():
        if isinstance(task, DbtTestLocalOperator | DbtTestWatcherOperator):
            task.retries = 0
        # Cosmos keeps dbt's partial-parse file per task group; one file for all layers lets each layer
        # start from the parse of the layer before, so a run parses the project fully at most once.
        if getattr(task, "cache_dir", None) is not None:
            task.cache_dir = task.cache_dir.parent / group.dag.dag_id
    if mode == "watcher":
        _sensors_after_producer(group)
    return group


def _sensors_after_producer(group: TaskGroup) -> None:
    """Start the layer's sensors once its producer (`dbt build`) has finished.

    Cosmos lets them wait alongside it, but a sensor holding the 1-slot DuckDB pool would block the
    producer, and `airflow dags test` runs one task at a time, so a sensor that went first would wait
    forever. After the build each sensor finds its node's result at once; NONE_FAILED lets them report
    per model after a failed build (whose retry restores the results and skips), while a layer whose
    upstream failed stays upstream_failed.
    """
    prefix = f"{group.group_id}."
    producer = group.children[prefix + PRODUCER_WATCHER_TASK_ID]
    done = group.children[prefix + PRODUCER_WATCHER_DONE_TASK_ID]
    # The producer's retry never re-runs dbt: it restores the first try's results and skips, so it
    # needs one retry, at once; the sensors re-run failed models under the layer's retry policy.
    producer.retries = 1
    producer.retry_delay = timedelta(0)
    consumers = [task for task in group.iter_tasks() if task.task_id not in (producer.task_id, done.task_id)]
    in_group = {task.task_id for task in consumers}
    for task in consumers:
        if not task.upstream_task_ids & in_group:
            producer >> task
            task.trigger_rule = TriggerRule.NONE_FAILED
