"""The customer_360 DAG as the scheduler sees it: imports cleanly, fast, wired in layer order."""

from __future__ import annotations

import itertools
import time

import pytest
from cosmos.operators.local import DbtRunLocalOperator, DbtSeedLocalOperator, DbtTestLocalOperator

from include.contracts import load_sources
from include.pipeline_config import load_pipeline_config

LAYERS = ("staging", "stitching", "marts", "analytics")


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(__import__("include.settings").settings.PROJECT_ROOT / "dags"))
    elapsed = time.perf_counter() - started
    print(f"\nDagBag parse of dags/: {elapsed:.2f} s (incl. imports)")
    assert bag.import_errors == {}
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
    assert not gate.downstream_task_ids


def test_layer_retries_come_from_config_and_tests_never_retry(dag) -> None:
    config = {layer.name: layer for layer in load_pipeline_config().layers}
    seen_tests = 0
    for task in dag.tasks:
        layer = _group_of(task.task_id)
        if isinstance(task, DbtTestLocalOperator):
            seen_tests += 1
            assert task.retries == 0, task.task_id
        elif isinstance(task, DbtRunLocalOperator | DbtSeedLocalOperator):
            assert task.retries == config[layer].retry.retries, task.task_id
            assert task.retry_delay == config[layer].retry.retry_delay, task.task_id
    assert seen_tests >= len(LAYERS)
    assert dag.get_task("dq_gate").retries == 0


def test_duckdb_tasks_share_one_slot_pool(dag) -> None:
    writers = [t for t in dag.tasks if _group_of(t.task_id) in ("load_sources", *LAYERS, "dq_gate")]
    assert writers and {t.pool for t in writers} == {"duckdb"}


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

    from include.pipeline_config import load_pipeline_config as load
    from include.settings import PIPELINE_CONFIG

    config = yaml.safe_load(PIPELINE_CONFIG.read_text())
    path = tmp_path / "pipeline.yml"
    path.write_text(yaml.safe_dump(config))  # sorted keys: analytics first
    with pytest.raises(ValueError, match="layers must be listed as staging, stitching, marts, analytics"):
        load(path)
