"""stitching_rule_preview: what a stitching rule change would do, before it lands. Nothing published changes."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param, task

from include import settings
from include.orchestration.params import dag_params

DOC_MD = """
### stitching_rule_preview — what would this rule change do?

Trigger with proposed thresholds (**stitch_max_user_ids_per_anonymous_id**,
**stitch_max_anonymous_ids_per_user_id**; the defaults are today's) and entries to add to the
exclusion lists (**exclude_ids**: `[{"id": "kiosk-7", "id_type": "anonymous_id", "note": "..."}]`;
**exclude_links**: `[{"anonymous_id": "...", "user_id": "...", "event_id": "...", "reason": "..."}]`).
The task builds the stitching layer with them in `stitching__preview` (readers never look there;
staging is read as it is) and reports against the published graph: profiles merged and split, ids
newly excluded or let back in, the largest profiles before and after, and how many
`marts.with_user_id` rows would change. The report ends the task log and is kept in
`audit.stitching_investigations` (kind `preview`). Nothing published changes; to adopt the change,
commit the entries to `dbt/seeds/` or set the thresholds in the next run's params.
"""

THRESHOLDS = ("stitch_max_user_ids_per_anonymous_id", "stitch_max_anonymous_ids_per_user_id")
ID = {"type": "string", "minLength": 1, "maxLength": 512, "pattern": r"\S"}

with DAG(
    dag_id="stitching_rule_preview",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={
        **{name: param for name, param in dag_params().items() if name in THRESHOLDS},
        "exclude_ids": Param([], type="array", maxItems=1000, description="Ids to add to the exclusion list.",
                             items={"type": "object", "required": ["id", "id_type"], "additionalProperties": False,
                                    "properties": {"id": ID, "id_type": {"enum": ["user_id", "anonymous_id"]},
                                                   "note": {"type": "string", "maxLength": 500}}}),
        "exclude_links": Param(
            [], type="array", maxItems=1000, description="(anonymous_id, user_id) links not to use.",
            items={"type": "object", "required": ["anonymous_id", "user_id"], "additionalProperties": False,
                   "properties": {"anonymous_id": ID, "user_id": ID, "event_id": {"type": "string", "maxLength": 512},
                                  "valid_from": {"type": "string", "format": "date-time"},
                                  "valid_to": {"type": "string", "format": "date-time"},
                                  "reason": {"type": "string", "maxLength": 500}}}),
    },
    default_args={"owner": "data-platform", "retries": 0},
    tags=["customer-360", "identity-stitching", "on-call"],
    doc_md=DOC_MD,
) as dag:

    @task(pool=settings.DUCKDB_POOL)
    def preview(params: dict | None = None, run_id: str | None = None) -> dict:
        from include.oncall.rule_preview import run_preview

        return run_preview(params, run_id)

    preview()
