"""stitching_investigation: why did these ids merge? A manual, read-mostly report on one profile."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param, task

from include import settings
from include.oncall.id_path import DEFAULT_MAX_LINKS, MAX_MAX_LINKS
from include.publishing.build import WHICH_BUILDS

DOC_MD = """
### stitching_investigation — why did these ids merge?

Trigger with **id** (and optionally **id_type**) or **user_main_id** (e.g. from the gate's
`stitching:largest_cluster_ids` row or `stitching.stitch_top_clusters`). The task log ends with the
report: the profile's ids, the identify events (both SDKs) that linked them in time order, the bridge
ids whose removal splits the profile, and a suggested exclusion-list entry or threshold. The same
report is kept in `audit.stitching_investigations` of the deployment's warehouse (DuckDB or
Snowflake, `C360_TARGET`).

**Why are these two ids in one profile?** Trigger with **id** and **other_id** (each optionally typed
with **id_type** / **other_id_type**; not with user_main_id). The task log answers with the shortest
chain of identify links between them, numbered, each link with the event that made it (SDK, event id,
time, landing file and row), or why they are not in one profile: two different profiles (both
user_main_ids named), an id kept out of the graph (its rule from `stitching.excluded_ids`), or an
unknown id. A profile with more than **max_links** links is refused. The answer is kept in
`audit.stitching_investigations` too (kind `path`, chain in `answer_json`).

**build**: `latest` (default) reads the graph the latest customer_360 run built, the one its gate
judged and an alert names, even when the gate kept it from readers; `published` reads what readers see.
"""

with DAG(
    dag_id="stitching_investigation",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "id": Param(None, type=["null", "string"], maxLength=512,
                    description="An id of the profile (user_id or anonymous_id), as it appears in the sources."),
        "id_type": Param(None, type=["null", "string"], enum=[None, "user_id", "anonymous_id"],
                         description="Type of id, when the same string is used as both."),
        "user_main_id": Param(None, type=["null", "string"], pattern="^[0-9a-f]{32}$",
                              description="The profile's user_main_id, instead of id."),
        "other_id": Param(None, type=["null", "string"], maxLength=512,
                          description="A second id: answer why id and other_id are in one profile (the "
                                      "shortest chain of identify links between them), or why they are not."),
        "other_id_type": Param(None, type=["null", "string"], enum=[None, "user_id", "anonymous_id"],
                               description="Type of other_id, when the same string is used as both."),
        "build": Param("latest", type="string", enum=list(WHICH_BUILDS),
                       description="latest: the graph the latest run built and its gate judged (what an alert "
                                   "names, published or not); published: the graph readers see."),
        "max_links": Param(DEFAULT_MAX_LINKS, type="integer", minimum=1, maximum=MAX_MAX_LINKS,
                           description="With other_id: refuse a profile with more links than this."),
    },
    default_args={"owner": "data-platform", "retries": 0},
    tags=["customer-360", "identity-stitching", "on-call"],
    doc_md=DOC_MD,
) as dag:

    @task(pool=settings.DUCKDB_POOL)
    def investigate(params: dict | None = None, run_id: str | None = None) -> dict:
        from include.oncall.id_path import is_path_request, run_path
        from include.oncall.investigation import run_investigation

        if is_path_request(params or {}):
            return run_path(params or {}, run_id or "")
        return run_investigation(params or {}, run_id or "")

    investigate()
