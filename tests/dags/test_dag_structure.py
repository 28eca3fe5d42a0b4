"""The customer_360 DAG as the scheduler sees it: imports cleanly, fast, wired in layer order."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from airflow.providers.standard.operators.empty import EmptyOperator
from cosmos.operators.local import DbtRunLocalOperator, DbtSeedLocalOperator, DbtTestLocalOperator
from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtTestWatcherOperator

from include.contracts import load_sources
from include.orchestration.pipeline_config import load_pipeline_config

LAYERS = ("staging", "stitching", "marts", "analytics")


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(__import__("include.settings").settings.PROJECT_ROOT / "dags"))
    elapsed = time.perf_counter() - started
    print(f"\nDagBag parse of dags/: {elapsed:.2f} s (incl. imports)")
    assert bag.import_errors == {}
    return bag


@pytest.fixture(scope="module")
def dag(bag):
    return bag.dags["customer_360"]


def _group_of(task_id: str) -> str:
    return task_id.split(".", 1)[0] if "." in task_id else task_id


def test_dag_file_parses_fast_without_dbt_ls(dag, capsys) -> None:
    import importlib.util

    from include import settings

    spec = importlib.util.spec_from_file_location("customer_360_timed", settings.PROJECT_ROOT / "dags/customer_360.py")
    module = importlib.util.module_from_spec(spec)
    started = time.perf_counter()
    spec.loader.exec_module(module)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\ncustomer_360.py parse (modules warm): {elapsed:.3f} s")
    assert module.dag.dag_id == "customer_360"


def test_one_load_task_per_contract_source(dag) -> None:
    loads = {t.task_id for t in dag.tasks if t.task_id.startswith("load_sources.")}
    assert loads == {f"load_sources.{name}" for name in load_sources()}


def test_layers_run_in_order_then_gate(dag) -> None:
    groups = {_group_of(t.task_id) for t in dag.tasks}
    assert set(LAYERS) <= groups
    order = ["load_sources", *LAYERS, "dq_gate"]
    for earlier, later in itertools.pairwise(order):
        later_roots = [t for t in dag.tasks if _group_of(t.task_id) == later]
        assert later_roots, f"no tasks in {later}"
        # Every task of a layer runs after every task of the layer before it.
        for task in later_roots:
            upstream_groups = {_group_of(u) for u in task.get_flat_relative_ids(upstream=True)}
            assert earlier in upstream_groups, f"{task.task_id} does not wait for {earlier}"
    gate = dag.get_task("dq_gate")
    assert all(_group_of(t) != "dq_gate" for t in gate.get_flat_relative_ids(upstream=True))
    # Every dbt task builds the colour plan_build chose; only the gate's success publishes it.
    assert all("plan_build" in t.get_flat_relative_ids(upstream=True)
               for t in dag.tasks if _group_of(t.task_id) in LAYERS)
    assert gate.downstream_task_ids == {"publish"}
    publish = dag.get_task("publish")
    assert publish.trigger_rule == "all_success" and not publish.downstream_task_ids


def test_publish_announces_the_contract_tables_readers_see(bag, dag) -> None:
    from include.publishing.assets import published_assets

    assert dag.get_task("publish").outlets == published_assets()
    assert {a.name for a in published_assets()} >= {"c360.marts.with_user_id", "c360.stitching.user_id_stitcher"}
    # The export runs on the feature view's asset, i.e. after each publish and never otherwise.
    export = bag.dags["customer_features_export"]
    assert [a.name for a in export.timetable.asset_condition.objects] == ["c360.marts.with_user_id"]


def test_layer_retries_come_from_config_and_tests_never_retry(dag) -> None:
    config = {layer.name: layer for layer in load_pipeline_config().layers}
    seen_tests = seen_models = 0
    for task in dag.tasks:
        layer = _group_of(task.task_id)
        # Watcher sensors are run operators too (their retry re-runs the model), test sensors included.
        if isinstance(task, DbtTestLocalOperator | DbtTestWatcherOperator):
            seen_tests += 1
            assert task.retries == 0, task.task_id
        elif isinstance(task, DbtRunLocalOperator | DbtSeedLocalOperator):
            seen_models += 1
            assert task.retries == config[layer].retry.retries, task.task_id
            assert task.retry_delay == config[layer].retry.retry_delay, task.task_id
    assert seen_tests >= len(LAYERS) and seen_models >= len(LAYERS)
    assert dag.get_task("dq_gate").retries == 0


def test_duckdb_tasks_share_one_slot_pool(dag) -> None:
    # An EmptyOperator never reaches a worker: the scheduler marks it done.
    writers = [t for t in dag.tasks if _group_of(t.task_id) in ("load_sources", "plan_build", *LAYERS,
                                                                  "shadow_rebuild", "dq_gate", "publish")
               and not isinstance(t, EmptyOperator)]
    assert writers and {t.pool for t in writers} == {"duckdb"}


def test_each_layer_runs_one_dbt_build_before_its_per_model_tasks(dag) -> None:
    assert load_pipeline_config().dbt_execution_mode == "watcher"
    for layer in LAYERS:
        tasks = [t for t in dag.tasks if _group_of(t.task_id) == layer]
        producers = [t for t in tasks if isinstance(t, DbtProducerWatcherOperator)]
        assert len(producers) == 1, layer
        producer = producers[0]
        # A test whose other parent is in a later layer must wait for that layer, as in local mode.
        assert producer.indirect_selection == "cautious"
        # Its retry restores the first try's results and skips; the per-model tasks retry the models.
        assert producer.retries == 1
        downstream = producer.get_flat_relative_ids(upstream=False)
        per_model = [t for t in tasks if t is not producer]
        assert len(per_model) > 1, layer
        # A sensor that went first would hold the DuckDB slot the build needs (and wait forever under
        # `airflow dags test`, which runs one task at a time).
        assert all(t.task_id in downstream for t in per_model), layer


def test_per_run_values_reach_dbt_as_environment_not_vars(dag) -> None:
    from include.orchestration.dbt_layers import RUN_ENV

    dbt_tasks = [t for t in dag.tasks if _group_of(t.task_id) in LAYERS and hasattr(t, "env")]
    assert dbt_tasks
    for task in dbt_tasks:
        assert not task.vars, task.task_id
        assert RUN_ENV.items() <= task.env.items(), task.task_id


def test_local_execution_mode_stays_available() -> None:
    from airflow.sdk import DAG

    from include.orchestration.dbt_layers import layer_task_group

    staging = load_pipeline_config().layers[0]
    with DAG("c360_local_mode", schedule=None, start_date=datetime(2026, 1, 1)) as local_dag:
        layer_task_group(staging, "local")
    kinds = {type(t) for t in local_dag.tasks}
    assert DbtRunLocalOperator in kinds and DbtTestLocalOperator in kinds
    assert not any(isinstance(t, DbtProducerWatcherOperator) for t in local_dag.tasks)


def test_an_unknown_execution_mode_is_refused(tmp_path) -> None:
    import yaml

    from include.orchestration.pipeline_config import load_pipeline_config as load
    from include.settings import PIPELINE_CONFIG

    config = yaml.safe_load(PIPELINE_CONFIG.read_text())
    config["dbt_execution_mode"] = "kubernetes"
    path = tmp_path / "pipeline.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(ValueError, match="dbt_execution_mode must be one of watcher, local; found 'kubernetes'"):
        load(path)


@pytest.mark.slow  # two dbt parses of the whole project
def test_a_new_run_id_keeps_dbt_partial_parsing(tmp_path) -> None:
    """Each run brings a new run id and reference date; as --vars they made every dbt invocation
    re-parse the whole project. As environment variables only the files that read them re-parse."""
    from include import settings

    project = tmp_path / "dbt"
    shutil.copytree(settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    dbt = str(Path(sys.executable).parent / "dbt")
    env = {**os.environ, "C360_DUCKDB_PATH": str(tmp_path / "w.duckdb"), "C360_AIRFLOW_RUN_ID": "manual__1"}

    def parse(**extra: str) -> str:
        proc = subprocess.run([dbt, "--debug", "parse", "--profiles-dir", "."], cwd=project, env={**env, **extra},
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:]
        return proc.stdout

    parse()
    output = parse(C360_AIRFLOW_RUN_ID="manual__2")
    assert "Unable to do partial parsing" not in output
    # The models that write the run id into their rows, and only them.
    assert set(re.findall(r"Partial parsing: updated file: c360://(\S+)", output)) == {
        "models/stitching/stitch_cluster_health.sql", "models/stitching/stitch_link_exclusion_effect.sql",
        "models/stitching/int_user_main_id_changes.sql"}


def test_the_shadow_rebuild_runs_after_the_layers_and_before_the_gate_in_the_runs_dbt_environment(dag) -> None:
    from include.orchestration.dbt_layers import RUN_ENV

    shadow = dag.get_task("shadow_rebuild")
    assert shadow.upstream_task_ids and {_group_of(t) for t in shadow.upstream_task_ids} == {"analytics"}
    assert shadow.downstream_task_ids == {"dq_gate"}
    assert shadow.templates_dict == RUN_ENV and shadow.retries == 0


def test_shadow_rebuild_is_a_boolean_param_off_by_default(dag) -> None:
    from airflow.sdk import Param
    from airflow.sdk.exceptions import ParamValidationError

    param = dag.params.get_param("shadow_rebuild")
    assert param.value is False and param.schema["type"] == "boolean" and "twice" in param.description
    assert Param(param.value, **param.schema).resolve(True) is True
    for value in ("true", 1, None):
        with pytest.raises(ParamValidationError):
            Param(param.value, **param.schema).resolve(value)


def test_params_have_schemas(dag) -> None:
    params = dag.params
    for name in ("source_dir", "num_customers", "full_refresh"):
        assert name in params
    schema = params.get_param("num_customers").schema
    assert schema["type"] == "integer" and schema["minimum"] >= 1


def test_on_call_documentation(dag) -> None:
    assert dag.owner == "data-platform"
    assert {"customer-360", "dbt"} <= set(dag.tags)
    assert "audit.dq_gate_results" in dag.doc_md and "audit.rejected_rows" in dag.doc_md


def test_a_config_listing_layers_out_of_order_is_refused(tmp_path) -> None:
    import yaml

    from include.orchestration.pipeline_config import load_pipeline_config as load
    from include.settings import PIPELINE_CONFIG

    config = yaml.safe_load(PIPELINE_CONFIG.read_text())
    path = tmp_path / "pipeline.yml"
    path.write_text(yaml.safe_dump(config))  # sorted keys: analytics first
    with pytest.raises(ValueError, match="layers must be listed as staging, stitching, marts, analytics"):
        load(path)
