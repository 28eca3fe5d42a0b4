"""One run of the DAG at a time: runs rebuild the same tables."""

from __future__ import annotations


class RunsOverlap(Exception):
    """Another run of the DAG is active: runs rebuild the same tables and must not interleave."""


def check_sole_active_run() -> None:
    """Refuse to start a run while another run of the same DAG is running (call it from the run's first
    task). The DAG's max_active_runs=1 holds scheduled and manual runs back, but a backfill counts only
    against its own --max-active-runs (default 10), beside any scheduled run: the one-slot pool would
    keep DuckDB from a lock error, yet the runs' layers would interleave, one run's marts built from
    another's staging."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    ti, dag_run = context["ti"], context["dag_run"]
    running = ti.get_dr_count(dag_id=ti.dag_id, states=["running"])
    if running > 1:
        raise RunsOverlap(
            f"{running - 1} other {ti.dag_id} run(s) are running; runs share one warehouse and must run one "
            f"after another, so run {dag_run.run_id} was not started. A backfill needs `airflow backfill create "
            f"--max-active-runs 1`; otherwise clear this task when the other run has finished (a run whose process "
            f"was killed stays 'running' until it is marked failed in the UI or the REST API)"
        )
