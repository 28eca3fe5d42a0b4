"""customer_360: landing files -> raw -> staging -> stitching -> marts -> analytics -> [shadow_rebuild] -> dq_gate
-> publish."""

from __future__ import annotations

import logging
from datetime import datetime

from airflow.sdk import DAG, TaskGroup, task
from airflow.sdk.exceptions import AirflowFailException

from include import settings
from include.contracts import load_sources
from include.oncall import callbacks
from include.orchestration import tasks
from include.orchestration.dbt_layers import BUILD_VALUES, RUN_ENV, layer_task_group
from include.orchestration.params import dag_params
from include.orchestration.pipeline_config import load_pipeline_config
from include.publishing.assets import published_assets
from include.publishing.build import NothingNew
from include.quality.gate import GateFailed

DOC_MD = """
### customer_360 — what runs and where to look when it fails

1. **prepare_sources** resolves the landing directory (param `source_dir`; empty → synthetic data).
2. **load_sources.<source>** loads each source's CSV/Parquet files into `raw.<source>`. Rows that
   break the contract go to `audit.rejected_rows` with the reason; counts per file in
   `audit.load_batches` (`rows_read = rows_loaded + rows_rejected`).
3. **staging → stitching → marts → analytics**: one Cosmos task group per dbt layer. In the default
   watcher mode (`dbt_execution_mode` in `include/pipeline.yml`) `dbt_producer_watcher` runs the
   layer's `dbt build` (its log has every model and test); then a `.run` task per model reports that
   model's result and, on a retry (per `include/pipeline.yml`), re-runs that model alone, and a `.test`
   task reports its tests (never retried). Every dbt result is kept in `audit.dbt_results` (filter on
   `airflow_run_id`).
   **plan_build** (after the loads) skips the layers, the gate and publish when the published build
   was made from the same inputs (landing files, dbt project, parameters): nothing new, nothing to do.
4. **shadow_rebuild** (param `shadow_rebuild`, else a no-op): a from-scratch rebuild compared per relation with
   the build in `audit.shadow_rebuilds`; a difference fails the gate (docs/operations.md#shadow-full-rebuild).
5. **dq_gate** writes one row per check to `audit.dq_gate_results` and fails the run on any `fail`;
   its log ends with the table of every check.
6. **publish** (only after a passing or warning gate): the layers were built where readers do not look
   (`<layer>__blue` or `__green`, chosen by **plan_build**); publish points the contract names
   (`stitching.*`, `marts.*`, `analytics.*`) at them in one transaction, appends the build's
   profile renames to `stitching.user_main_id_changes`, and emits an Asset per contract table
   (`c360.marts.with_user_id`, ...) that downstream DAGs run on. A failed gate publishes nothing:
   readers stay on the last good run (`audit.builds` says which run is published).

On-call: the failed task's group is the layer; its log names the model or test. Identity merges:
`stitching.user_id_stitcher` (who is in a profile) and `stitching.excluded_ids` (who was kept out);
the rejected build's own tables are in `stitching__<colour>` (the stitching_investigation DAG reads it).
"""

log = logging.getLogger(__name__)
CONFIG = load_pipeline_config()

with DAG(
    dag_id="customer_360",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params=dag_params(),
    # On-call: every task's final failure alerts (include/oncall/callbacks.py); a retried try does not.
    # Retries are set per task: loads and layers from pipeline.yml, the rest never retried.
    default_args={"owner": "data-platform", "retries": 0, "on_failure_callback": callbacks.task_failed},
    on_failure_callback=callbacks.run_failed,
    deadline=callbacks.run_deadline(CONFIG.gate.get("alerts", {})),
    tags=["customer-360", "dbt", "cosmos", "identity-stitching"],
    doc_md=DOC_MD,
) as dag:

    @task
    def prepare_sources(params: dict | None = None) -> str:
        return tasks.prepare(params)

    @task(pool=settings.DUCKDB_POOL, retries=CONFIG.loads.retries, retry_delay=CONFIG.loads.retry_delay)
    def load(source_name: str, source_dir: str, run_id: str | None = None, params: dict | None = None) -> list[dict]:
        # full_refresh reloads every landing file; otherwise only new and changed files are read.
        return tasks.load(source_name, source_dir, run_id, full_refresh=bool(params["full_refresh"]))

    # After the loads: they decide which landing files are current, part of the build's inputs. A short
    # circuit: with nothing new it returns no colour and every task after it is skipped, whatever its
    # trigger rule (Cosmos' watcher tasks would otherwise run on a skipped upstream).
    @task.short_circuit(pool=settings.DUCKDB_POOL, retries=0, templates_dict=BUILD_VALUES,
                        ignore_downstream_trigger_rules=True)
    def plan_build(run_id: str | None = None, params: dict | None = None, templates_dict: dict | None = None) -> str:
        try:
            return tasks.plan_build(run_id, templates_dict, rebuild=bool(params["full_refresh"]))
        except NothingNew as exc:
            # Readers keep the published build, made from these inputs.
            log.warning("%s", exc)
            return ""

    # templates_dict: the dbt environment of the run's Cosmos tasks, rendered the same way.
    @task(pool=settings.DUCKDB_POOL, retries=0, templates_dict=RUN_ENV)
    def shadow_rebuild(
        run_id: str | None = None, params: dict | None = None, templates_dict: dict | None = None
    ) -> dict:
        return tasks.shadow_rebuild(run_id, params, templates_dict)

    @task(pool=settings.DUCKDB_POOL, retries=0)
    def dq_gate(run_id: str | None = None, params: dict | None = None) -> str:
        try:
            return tasks.gate(run_id, params)
        except GateFailed as exc:
            # The data will not change by retrying: fail at once.
            raise AirflowFailException(str(exc)) from exc

    # Runs only when the gate passed (or warned); a failed gate leaves readers on the last publish.
    @task(pool=settings.DUCKDB_POOL, retries=0, outlets=published_assets())
    def publish(run_id: str | None = None, outlet_events=None) -> dict:
        published = tasks.publish(run_id)
        for asset in published_assets():
            outlet_events[asset].extra = published.extra()
        return published.extra()

    source_dir = prepare_sources()
    with TaskGroup("load_sources") as load_sources_group:
        for name in load_sources():
            load.override(task_id=name)(name, source_dir)

    upstream = load_sources_group >> plan_build()
    for layer in CONFIG.layers:
        group = layer_task_group(layer, CONFIG.dbt_execution_mode)
        upstream >> group
        upstream = group
    upstream >> shadow_rebuild() >> dq_gate() >> publish()
