"""Every place we rely on Cosmos internals, one small function each.

Written against astronomer-cosmos 1.15.1. Each function says what Cosmos does, why we change it, and what
to check when Cosmos is upgraded; tests/dags/test_cosmos_patches.py has, per function, a test that fails when
the internal it relies on changes and a test that the patch shows in the rendered customer_360 DAG.

Public Cosmos API (ProjectConfig, ExecutionConfig incl. setup_operator_args, RenderConfig, operator_args,
profile mappings) stays in dbt_layers.py / dbt_profiles.py; only what goes past it lives here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, TaskGroup, TriggerRule
from cosmos import ProjectConfig
from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID
from cosmos.operators.local import DbtTestLocalOperator
from cosmos.operators.watcher import DbtTestWatcherOperator
from cosmos.profiles import BaseProfileMapping

# The colour a run builds, as dbt_layers.RUN_ENV gives it to dbt (read by generate_schema_name).
BUILD_COLOUR_ENV = "C360_BUILD_COLOUR"

# The task classes Cosmos renders for a model's tests (TestBehavior.AFTER_EACH), per execution mode.
TEST_TASK_CLASSES = (DbtTestLocalOperator, DbtTestWatcherOperator)


def use_local_manifest_path(project_config: ProjectConfig, manifest: Path) -> None:
    """Make Cosmos read the dbt manifest as a plain local file.

    Cosmos: ProjectConfig.__init__ wraps `manifest_path` in an Airflow ObjectStoragePath; the converter
    and DbtGraph later call `.exists()` and `.open()` on `project_config.manifest_path`, and every task gets
    it as `manifest_filepath` (copied into the task's project copy with `copy_manifest_file_if_exists`).
    Why: the first open of an ObjectStoragePath loads every Airflow plugin (hook lineage), about 2 s of each
    DAG parse; our manifest is a local file, and a pathlib.Path offers the same `.exists()`/`.open()`.
    On upgrade: check ProjectConfig still stores the path in the `manifest_path` attribute (and still wraps
    it: if not, drop this patch), and that nothing in Cosmos needs ObjectStoragePath-only members on it.
    """
    project_config.manifest_path = Path(manifest)


def share_partial_parse_cache(group: TaskGroup) -> None:
    """Give every dbt task of the DAG one Cosmos cache directory instead of one per task group, and
    in it one partial parse per build colour (cache_per_build_colour, run before each task).

    Cosmos: DbtToAirflowConverter passes `cache_dir = cosmos.settings.cache_dir / "<dag_id>__<group_id>"`
    (cache._create_cache_identifier, cache._obtain_cache_dir_path) to every operator, which copies dbt's
    partial_parse.msgpack from `self.cache_dir` before dbt runs and back after it.
    Why: one file for all layers lets each layer start from the parse of the layer before, so a run
    parses the dbt project fully at most once.
    On upgrade: check operators still read the `cache_dir` attribute at run time, and that its parent is
    still `cosmos.settings.cache_dir` (the identifier is one path level).
    """
    for task in group.iter_tasks():
        if getattr(task, "cache_dir", None) is not None:
            task.cache_dir = task.cache_dir.parent / group.dag.dag_id


def cache_per_build_colour(context: Any) -> None:
    """Before a dbt task runs: keep its partial parse under the colour the run builds.

    Why: generate_schema_name reads C360_BUILD_COLOUR, and dbt re-parses the whole project when an
    env_var() a macro reads changes. Runs alternate colours, so with one file the first layer of every
    run parsed in full (about 3 s at Instacart scale); a file per colour is always from a parse with
    this run's colour. Given to every Cosmos operator as `pre_execute` (dbt_layers.operator_args), so
    `env` is rendered. On upgrade: as share_partial_parse_cache.
    """
    task = context["task"]
    colour = (task.env or {}).get(BUILD_COLOUR_ENV, "")
    if colour and getattr(task, "cache_dir", None) is not None and task.cache_dir.name != colour:
        task.cache_dir = task.cache_dir / colour


def tests_never_retry(group: TaskGroup) -> None:
    """Set retries=0 on the tasks Cosmos renders for a model's tests.

    Cosmos: renders a model's tests as DbtTestLocalOperator (local mode) or as the sensor
    DbtTestWatcherOperator (watcher mode), with the group's default_args retries; a retried test sensor
    runs `dbt test --select <model>` itself (_fallback_to_non_watcher_run).
    Why: a failing data test fails at once, the data will not change by retrying; models keep the
    layer's retries.
    On upgrade: check these are still the classes Cosmos renders for tests in both modes (a new test
    class would silently retry).
    """
    for task in group.iter_tasks():
        if isinstance(task, TEST_TASK_CLASSES):
            task.retries = 0


def watcher_producer(group: TaskGroup) -> BaseOperator:
    """The task that runs the layer's `dbt build` in watcher mode.

    Cosmos: names it PRODUCER_WATCHER_TASK_ID ("dbt_producer_watcher") inside the DbtTaskGroup
    (airflow/graph.py _add_watcher_producer_task). On upgrade: check the constant and the task id.
    """
    return group.children[f"{group.group_id}.{PRODUCER_WATCHER_TASK_ID}"]


def watcher_producer_done(group: TaskGroup) -> BaseOperator:
    """Cosmos' EmptyOperator after the producer (PRODUCER_WATCHER_DONE_TASK_ID, trigger rule none_failed)
    that keeps a skipped producer from skipping the tasks after the group. On upgrade: check it exists."""
    return group.children[f"{group.group_id}.{PRODUCER_WATCHER_DONE_TASK_ID}"]


def producer_retries_once(group: TaskGroup) -> None:
    """Give the watcher producer exactly one retry, at once.

    Cosmos: DbtProducerWatcherOperator.execute never re-runs dbt on try_number > 1: it restores the first
    try's node results to XCom from an Airflow Variable (written by its on_retry/on_failure callback when
    [cosmos] enable_watcher_reliable_retry, the default) and raises AirflowSkipException.
    Why: with that one retry a failed build's per-model results reach the sensors (which then re-run
    failed models under the layer's retry policy); more retries or a delay would only add waiting.
    On upgrade: check the producer still restores and skips on a retry (else one retry re-runs the whole
    build) and still registers the backup callback.
    """
    producer = watcher_producer(group)
    producer.retries = 1
    producer.retry_delay = timedelta(0)


def sensors_after_producer(group: TaskGroup) -> None:
    """Start the layer's sensors once its producer (`dbt build`) has finished.

    Cosmos: in a DbtTaskGroup it sets no edge from the producer to the sensors (DbtRunWatcherOperator,
    DbtTestWatcherOperator, ...); they start alongside it and poll its XCom (airflow/graph.py
    _add_watcher_dependencies only wires the producer, with trigger rule "always", in a DbtDag).
    Why: a sensor holding the 1-slot DuckDB pool would block the producer, and `airflow dags test` runs one
    task at a time, so a sensor that went first would wait forever. After the build each sensor finds its
    node's result at once; NONE_FAILED lets them report per model after a failed build (whose retry restores
    the results and skips), while a layer whose upstream failed stays upstream_failed.
    On upgrade: check Cosmos still leaves the sensors unwired in a task group, and that a sensor still
    reads its result from the producer (producer_task_id) and falls back to running dbt itself when the
    producer is terminated without a result.
    """
    producer = watcher_producer(group)
    done = watcher_producer_done(group)
    consumers = [task for task in group.iter_tasks() if task.task_id not in (producer.task_id, done.task_id)]
    in_group = {task.task_id for task in consumers}
    for task in consumers:
        if not task.upstream_task_ids & in_group:
            producer >> task
            task.trigger_rule = TriggerRule.NONE_FAILED


def adopt_connection(mapping: BaseProfileMapping, conn: Any) -> None:
    """Hand a profile mapping a connection already read, so it does not look it up again.

    Cosmos: BaseProfileMapping.conn reads the Airflow connection once and caches it in the private
    attribute `_conn`; the Snowflake mappings' `conn` property normalises the extras of `super().conn`.
    Why: SnowflakeConnectionProfileMapping (dbt_profiles.py) reads the connection to choose the Snowflake
    mapping, then delegates to it; this reuses that read (and its error message) instead of a second one.
    On upgrade: check `conn` still returns `_conn` when it is set.
    """
    mapping._conn = conn
