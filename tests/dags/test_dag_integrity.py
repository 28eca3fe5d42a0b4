"""Every DAG in dags/ as the scheduler loads it (the Astro project template's integrity test): imports
without errors, and carries what on-call and the UI rely on."""

from __future__ import annotations

import pytest

from include import settings

TAG = "customer-360"


def _dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(settings.PROJECT_ROOT / "dags"))


BAG = _dag_bag()
DAG_IDS = sorted(BAG.dag_ids)


def test_every_dag_file_imports_without_errors() -> None:
    assert BAG.import_errors == {}, "\n".join(f"{path}: {error}" for path, error in BAG.import_errors.items())
    files = {p.name for p in (settings.PROJECT_ROOT / "dags").glob("*.py")}
    assert {BAG.dags[d].fileloc.rsplit("/", 1)[-1] for d in DAG_IDS} == files, "a DAG file defines no DAG"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_has_an_owner_tags_and_a_runbook(dag_id: str) -> None:
    dag = BAG.dags[dag_id]
    assert dag.default_args.get("owner") not in (None, "", "airflow"), f"{dag_id}: default_args owner"
    assert TAG in dag.tags, f"{dag_id}: tags {dag.tags} lack {TAG!r}"
    assert dag.doc_md and len(dag.doc_md.strip()) > 200, f"{dag_id}: doc_md is the on-call runbook; write one"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_retries_are_set_on_purpose(dag_id: str) -> None:
    """The DAG names its default retries, so no task inherits Airflow's configured default by accident."""
    dag = BAG.dags[dag_id]
    assert "retries" in dag.default_args, f"{dag_id}: set default_args['retries'] (tasks may override it)"
    for task in dag.tasks:
        assert task.retries is not None and task.retries >= 0, f"{dag_id}.{task.task_id}: retries {task.retries}"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_a_scheduled_dag_alerts_on_failure(dag_id: str) -> None:
    """Nobody watches a scheduled run; a manual one is watched by whoever triggered it."""
    dag = BAG.dags[dag_id]
    if dag.timetable.can_be_scheduled:
        assert dag.default_args.get("on_failure_callback"), f"{dag_id}: default_args on_failure_callback"
