"""Cosmos internals we rely on (include/orchestration/cosmos_patches.py), one pair of tests per patch.

The first test of a pair fails when a Cosmos upgrade changes the internal the patch relies on: it looks at
Cosmos itself, most often at a dbt layer rendered with the patches switched off. The second checks that the
patch shows in the rendered customer_360 DAG. Run as `make test` does (AIRFLOW__CORE__UNIT_TEST_MODE=False).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TriggerRule
from cosmos import InvocationMode, ProjectConfig
from cosmos import settings as cosmos_settings
from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID
from cosmos.operators.local import DbtRunLocalOperator, DbtTestLocalOperator
from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtRunWatcherOperator, DbtTestWatcherOperator

from include import settings
from include.orchestration import cosmos_patches
from include.orchestration.pipeline_config import load_pipeline_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("staging", "stitching", "marts", "analytics")
# The patches dbt_layers.layer_task_group applies to a rendered group.
GROUP_PATCHES = ("tests_never_retry", "share_partial_parse_cache", "producer_retries_once", "sensors_after_producer")


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "customer_360.py"))
    assert bag.import_errors == {}
    return bag.dags["customer_360"]


def _render_staging(mode: str, dag_id: str, patched: bool):
    """The staging layer as dbt_layers renders it, with (or without) the group patches."""
    from airflow.sdk import DAG

    from include.orchestration.dbt_layers import layer_task_group

    staging = load_pipeline_config().layers[0]
    with pytest.MonkeyPatch.context() as mp:
        if not patched:
            for name in GROUP_PATCHES:
                mp.setattr(cosmos_patches, name, lambda group: None)
        with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1)):
            group = layer_task_group(staging, mode)
    return group, staging


@pytest.fixture(scope="module")
def cosmos_watcher_group():
    """What Cosmos itself renders for the staging layer in watcher mode: no group patch applied."""
    return _render_staging("watcher", "c360_cosmos_unpatched", patched=False)


def _tasks_of(dag, layer: str) -> list:
    return [t for t in dag.tasks if t.task_id.startswith(f"{layer}.")]


def _consumers(tasks: list, producer) -> list:
    done = producer.task_id + "_done"
    return [t for t in tasks if t.task_id not in (producer.task_id, done)]


# --- use_local_manifest_path ---------------------------------------------------------------------------------


def test_cosmos_wraps_the_manifest_path_and_reads_a_local_path_alike(tmp_path) -> None:
    from airflow.sdk import ObjectStoragePath
    from cosmos.converter import _calculate_manifest_version_hash
    from cosmos.dbt.project import copy_manifest_file_if_exists

    config = ProjectConfig(dbt_project_path=settings.DBT_PROJECT_DIR, manifest_path=settings.DBT_MANIFEST,
                           project_name="c360")
    # Cosmos still wraps it (else the patch is no longer needed) in the attribute the patch replaces.
    assert isinstance(config.manifest_path, ObjectStoragePath) and not isinstance(config.manifest_path, Path)
    cosmos_patches.use_local_manifest_path(config, settings.DBT_MANIFEST)
    assert type(config.manifest_path) is type(settings.DBT_MANIFEST)
    # What Cosmos does with it at parse and at task run time works on a pathlib.Path.
    config.validate_project()
    assert config.is_manifest_available()
    assert len(_calculate_manifest_version_hash(config.manifest_path)) == 32
    copy_manifest_file_if_exists(config.manifest_path, tmp_path)
    assert (tmp_path / "target" / "manifest.json").read_bytes() == settings.DBT_MANIFEST.read_bytes()


def test_rendered_dbt_tasks_get_the_manifest_as_a_local_path(dag) -> None:
    from include.orchestration.dbt_layers import PROJECT_CONFIG

    assert isinstance(PROJECT_CONFIG.manifest_path, Path)
    dbt_tasks = [t for t in dag.tasks if hasattr(t, "manifest_filepath")]
    assert {t.task_id.split(".", 1)[0] for t in dbt_tasks} == set(LAYERS)
    for task in dbt_tasks:
        assert isinstance(task.manifest_filepath, Path), task.task_id
        assert task.manifest_filepath == settings.DBT_MANIFEST, task.task_id


# --- share_partial_parse_cache -------------------------------------------------------------------------------


def test_cosmos_gives_each_task_group_a_cache_dir_under_its_cache_root(cosmos_watcher_group) -> None:
    from cosmos import cache

    group, _ = cosmos_watcher_group
    assert cosmos_settings.enable_cache
    expected = cache._obtain_cache_dir_path(cache._create_cache_identifier(group.dag, group))
    assert expected == cosmos_settings.cache_dir / "c360_cosmos_unpatched__staging"
    dirs = {t.cache_dir for t in group.iter_tasks() if hasattr(t, "cache_dir")}
    assert dirs == {expected}
    # The patch swaps the last path level (the group's identifier) for the DAG id.
    assert expected.parent == cosmos_settings.cache_dir


def test_dbt_operators_keep_the_partial_parse_file_in_their_cache_dir(tmp_path) -> None:
    from cosmos import cache

    from include.orchestration.dbt_layers import PROFILE_CONFIG

    built = tmp_path / "run" / "target"
    built.mkdir(parents=True)
    (built / "partial_parse.msgpack").write_bytes(b"parse")
    (built / "manifest.json").write_text("{}")
    project = tmp_path / "project"
    project.mkdir()
    operator = DbtRunLocalOperator(task_id="m", project_dir=str(project), profile_config=PROFILE_CONFIG,
                                   cache_dir=tmp_path / "shared")
    operator.cache_dir = tmp_path / "reassigned"  # read at run time, not only at construction
    operator._update_partial_parse_cache(tmp_path / "run")
    assert (tmp_path / "reassigned" / "target" / "partial_parse.msgpack").read_bytes() == b"parse"
    assert not (tmp_path / "shared").exists()
    assert cache._get_latest_partial_parse(project, operator.cache_dir) == (
        tmp_path / "reassigned" / "target" / "partial_parse.msgpack")


def test_every_layer_shares_one_cache_dir(dag) -> None:
    dirs = {t.cache_dir for t in dag.tasks if getattr(t, "cache_dir", None) is not None}
    assert dirs == {cosmos_settings.cache_dir / "customer_360"}


def test_a_dbt_task_keeps_its_partial_parse_under_the_colour_its_run_builds(dag) -> None:
    producer = cosmos_patches.watcher_producer(dag.task_group_dict["staging"])
    shared = cosmos_settings.cache_dir / "customer_360"
    for colour in ("blue", "green"):
        task = SimpleNamespace(env={**producer.env, cosmos_patches.BUILD_COLOUR_ENV: colour}, cache_dir=shared)
        cosmos_patches.cache_per_build_colour({"task": task})
        cosmos_patches.cache_per_build_colour({"task": task})  # a retry in the same process: no blue/blue
        assert task.cache_dir == shared / colour
    uncoloured = SimpleNamespace(env={cosmos_patches.BUILD_COLOUR_ENV: ""}, cache_dir=shared)
    cosmos_patches.cache_per_build_colour({"task": uncoloured})
    assert uncoloured.cache_dir == shared
    # The DAG gives the colour to dbt under the name the hook reads.
    assert cosmos_patches.BUILD_COLOUR_ENV in producer.env


# --- tests_never_retry ---------------------------------------------------------------------------------------


def test_cosmos_renders_tests_as_the_classes_we_stop_retrying(cosmos_watcher_group) -> None:
    group, staging = cosmos_watcher_group
    tests = [t for t in group.iter_tasks() if t.task_id.endswith(".test")]
    assert tests
    assert all(isinstance(t, DbtTestWatcherOperator) for t in tests)
    # Cosmos gives them the group's retries: without the patch a failing test would be retried.
    assert staging.retry.retries > 0 and {t.retries for t in tests} == {staging.retry.retries}
    local_group, _ = _render_staging("local", "c360_cosmos_unpatched_local", patched=False)
    local_tests = [t for t in local_group.iter_tasks() if t.task_id.endswith(".test")]
    assert local_tests and all(isinstance(t, DbtTestLocalOperator) for t in local_tests)
    assert set(cosmos_patches.TEST_TASK_CLASSES) == {DbtTestWatcherOperator, DbtTestLocalOperator}


def test_test_tasks_never_retry_and_model_tasks_keep_the_layer_retries(dag) -> None:
    config = {layer.name: layer for layer in load_pipeline_config().layers}
    for layer in LAYERS:
        tasks = _tasks_of(dag, layer)
        tests = [t for t in tasks if t.task_id.endswith(".test")]
        models = [t for t in tasks if t.task_id.endswith(".run")]
        assert tests and models, layer
        assert {t.retries for t in tests} == {0}, layer
        assert {t.retries for t in models} == {config[layer].retry.retries}, layer


# --- producer_retries_once -----------------------------------------------------------------------------------


def test_cosmos_names_the_producer_and_its_done_gate_as_we_look_them_up(cosmos_watcher_group) -> None:
    group, staging = cosmos_watcher_group
    # dags/customer_360.py's doc_md and bench/suite.py name the producer task too.
    assert PRODUCER_WATCHER_TASK_ID == "dbt_producer_watcher"
    assert PRODUCER_WATCHER_DONE_TASK_ID == "dbt_producer_watcher_done"
    producer = cosmos_patches.watcher_producer(group)
    done = cosmos_patches.watcher_producer_done(group)
    assert isinstance(producer, DbtProducerWatcherOperator)
    assert producer.task_id == "staging.dbt_producer_watcher"
    assert isinstance(done, EmptyOperator) and done.trigger_rule == TriggerRule.NONE_FAILED
    assert done.upstream_task_ids == {producer.task_id}
    # Cosmos gives the producer the group's retries and delay.
    assert producer.retries == staging.retry.retries != 1
    assert producer.retry_delay == staging.retry.retry_delay


def test_a_producer_retry_restores_the_results_and_skips_without_running_dbt(cosmos_watcher_group, monkeypatch) -> None:
    from cosmos.airflow.compatibility import AirflowSkipException
    from cosmos.operators import watcher
    from cosmos.operators._watcher.xcom import _backup_xcom_to_variable
    from cosmos.operators.local import DbtLocalBaseOperator

    group, _ = cosmos_watcher_group
    producer = cosmos_patches.watcher_producer(group)
    # The first try's results reach the Variable the retry restores them from.
    assert cosmos_settings.enable_watcher_reliable_retry
    retry_callbacks = producer.on_retry_callback
    retry_callbacks = retry_callbacks if isinstance(retry_callbacks, list | tuple) else [retry_callbacks]
    assert _backup_xcom_to_variable in retry_callbacks

    restored = []
    monkeypatch.setattr(watcher, "_restore_xcom_from_variable", restored.append)

    def no_dbt(*args, **kwargs):
        raise AssertionError("the producer's retry ran dbt")

    monkeypatch.setattr(DbtLocalBaseOperator, "execute", no_dbt)
    monkeypatch.setattr(DbtLocalBaseOperator, "build_and_run_cmd", no_dbt)
    context = {"ti": SimpleNamespace(try_number=2, dag_id="d", task_id=producer.task_id), "run_id": "r"}
    with pytest.raises(AirflowSkipException):
        producer.execute(context)
    assert restored == [context]


def test_each_producer_retries_once_at_once(dag) -> None:
    for layer in LAYERS:
        producer = dag.get_task(f"{layer}.{PRODUCER_WATCHER_TASK_ID}")
        assert isinstance(producer, DbtProducerWatcherOperator)
        assert producer.retries == 1, layer
        assert producer.retry_delay == timedelta(0), layer


# --- sensors_after_producer ----------------------------------------------------------------------------------


def test_cosmos_leaves_the_sensors_of_a_task_group_unwired(cosmos_watcher_group) -> None:
    group, _ = cosmos_watcher_group
    producer = cosmos_patches.watcher_producer(group)
    consumers = _consumers(list(group.iter_tasks()), producer)
    assert consumers
    assert producer.downstream_task_ids == {producer.task_id + "_done"}
    assert {t.trigger_rule for t in consumers} == {TriggerRule.ALL_SUCCESS}
    # The sensors find the producer by its full task id.
    assert {t.producer_task_id for t in consumers} == {producer.task_id}


class _FakeTaskInstance:
    def __init__(self, try_number: int, xcoms: dict) -> None:
        self.try_number = try_number
        self.xcoms = xcoms
        self.pulled_from: set = set()

    def xcom_pull(self, task_ids=None, key=None, **_):
        self.pulled_from.add(task_ids)
        return self.xcoms.get(key)


def test_a_sensor_reads_its_result_from_the_producer_or_runs_dbt_once_the_producer_is_done(
        cosmos_watcher_group, monkeypatch) -> None:
    from cosmos.operators._watcher.state import get_status_xcom_key

    group, _ = cosmos_watcher_group
    producer = cosmos_patches.watcher_producer(group)
    sensor = next(t for t in group.iter_tasks() if isinstance(t, DbtRunWatcherOperator))
    fallbacks = []
    monkeypatch.setattr(sensor, "_fallback_to_non_watcher_run", lambda try_number, context: fallbacks.append(1) or True)

    # After the build: the node's result is in the producer's XCom, found at the first poke.
    monkeypatch.setattr(sensor, "_get_producer_task_status", lambda context: "success")
    ti = _FakeTaskInstance(1, {get_status_xcom_key(sensor.model_unique_id): {"status": "success"}})
    assert sensor.poke({"ti": ti, "run_id": "r"}) is True
    assert ti.pulled_from == {producer.task_id} and not fallbacks

    # A retry after the producer finished (a skipped producer retry included) runs the model itself.
    monkeypatch.setattr(sensor, "_get_producer_task_status", lambda context: "skipped")
    assert sensor.poke({"ti": _FakeTaskInstance(2, {}), "run_id": "r"}) is True
    assert fallbacks == [1]


def test_sensors_start_after_their_layers_build(dag) -> None:
    for layer in LAYERS:
        tasks = _tasks_of(dag, layer)
        producer = dag.get_task(f"{layer}.{PRODUCER_WATCHER_TASK_ID}")
        consumers = _consumers(tasks, producer)
        in_group = {t.task_id for t in consumers}
        roots = [t for t in consumers if not t.upstream_task_ids & in_group]
        assert roots and len(roots) < len(consumers), layer
        for task in roots:
            assert task.upstream_task_ids == {producer.task_id}, task.task_id
            assert task.trigger_rule == TriggerRule.NONE_FAILED, task.task_id
        for task in consumers:
            if task not in roots:
                assert task.trigger_rule == TriggerRule.ALL_SUCCESS, task.task_id
            assert producer.task_id in task.get_flat_relative_ids(upstream=True), task.task_id


# --- adopt_connection (dbt_profiles.SnowflakeConnectionProfileMapping) ---------------------------------------


def test_a_profile_mapping_uses_the_connection_it_was_handed() -> None:
    from airflow.models import Connection
    from cosmos.profiles import BaseProfileMapping
    from cosmos.profiles.snowflake.user_pass import SnowflakeUserPasswordProfileMapping

    assert BaseProfileMapping._conn is None
    mapping = SnowflakeUserPasswordProfileMapping("c360_no_such_connection")
    conn = Connection(conn_id="c360_no_such_connection", conn_type="snowflake", login="u",
                      extra=json.dumps({"extra__snowflake__account": "acct"}))
    cosmos_patches.adopt_connection(mapping, conn)
    # No look-up of the (missing) connection, and the Snowflake mapping still normalises the extras.
    assert mapping.conn is conn
    assert mapping.conn.extra_dejson["account"] == "acct"


# --- public API, but the producer depends on how Cosmos merges it ---------------------------------------------


def test_only_the_producer_runs_dbt_as_a_subprocess(dag) -> None:
    for layer in LAYERS:
        tasks = _tasks_of(dag, layer)
        producer = dag.get_task(f"{layer}.{PRODUCER_WATCHER_TASK_ID}")
        assert producer.invocation_mode == InvocationMode.SUBPROCESS, layer
        assert {t.invocation_mode for t in _consumers(tasks, producer)} == {InvocationMode.DBT_RUNNER}, layer
