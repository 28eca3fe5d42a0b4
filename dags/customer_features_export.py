"""customer_features_export: each published customer_360 build -> a dated Parquet snapshot."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from include import settings
from include.oncall import callbacks
from include.publishing.assets import FEATURE_ASSET

DOC_MD = """
### customer_features_export — the published feature view, handed off

Runs when customer_360's **publish** task emits the asset `c360.marts.with_user_id` (only after a
passing or warning gate), and writes `marts.with_user_id` of that run to
`$C360_EXPORT_DIR/customer_features/dt=<published date>/<run id>.parquet` — what a reverse-ETL sync or
an ML job reads. Idempotent: a snapshot already written for a run is kept. An event whose run has since
been superseded by a newer publish is skipped (the newer event exports the newer run). Triggered by
hand, it exports the run published now.
"""

with DAG(
    dag_id="customer_features_export",
    schedule=[FEATURE_ASSET],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 2, "on_failure_callback": callbacks.task_failed},
    on_failure_callback=callbacks.run_failed,
    tags=["customer-360", "export"],
    doc_md=DOC_MD,
) as dag:

    @task(pool=settings.DUCKDB_POOL)
    def export_snapshot(triggering_asset_events=None) -> list[dict]:
        from include.orchestration.tasks import export_features

        events = list(triggering_asset_events[FEATURE_ASSET]) if triggering_asset_events else []
        return export_features([event.extra.get("run_id") for event in events])

    export_snapshot()
