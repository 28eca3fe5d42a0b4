"""What the customer_360 DAG's Python tasks do; the DAG file only wires them. Modules that import
duckdb are imported inside the tasks, so parsing the DAG file does not pay for them."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from include import settings
from include.contracts import load_sources
from include.loading.landing import prepare_landing
from include.orchestration import dbt_profiles
from include.orchestration.pipeline_config import load_pipeline_config
from include.publishing import build
from include.publishing.inputs import inputs_fingerprint
from include.publishing.publish import Published
from include.publishing.publish import publish as publish_build
from include.quality.gate import run_gate
from include.warehouse import connect_warehouse, describe_warehouse

log = logging.getLogger(__name__)


def prepare(params: dict) -> str:
    # The param schema already refuses another target; this also covers runs made without validation.
    from include.orchestration.run_guard import check_sole_active_run

    dbt_profiles.check_requested_target(params.get("target"))
    check_sole_active_run()
    return prepare_landing(params["source_dir"], int(params["num_customers"]), int(params["seed"]))


def load(source_name: str, source_dir: str, run_id: str, full_refresh: bool = False) -> list[dict]:
    """Load the source's new and changed landing files (every file on a full refresh); returns the
    counts of the files read, none when nothing was new (include/loading/batches.py)."""
    source = load_sources()[source_name]
    if settings.target_name() == "snowflake":
        from include.loading.snowflake_loader import load_source_snowflake

        results = load_source_snowflake(source, Path(source_dir), run_id, full_refresh=full_refresh)
        return [asdict(r) for r in results]
    from include.loading.duckdb_loader import load_source
    from include.warehouse.duckdb_file import connect

    with connect() as con:
        results = load_source(con, source, Path(source_dir), run_id, full_refresh=full_refresh)
    return [asdict(r) for r in results]


def plan_build(run_id: str, run_values: dict[str, str], rebuild: bool = False) -> str:
    """The colour the run's dbt layers build (C360_BUILD_COLOUR): never the published one. Raises
    build.NothingNew when the published build has the same inputs (after the loads, which decide
    which landing files are current)."""
    with connect_warehouse() as db:
        fingerprint = inputs_fingerprint(db, run_values)
        colour = build.plan_build(db, run_id, fingerprint, rebuild=rebuild)
    log.info("run %s builds %s (inputs %s)", run_id, ", ".join(build.schema_map(colour).values()), fingerprint[:12])
    return colour


def shadow_rebuild(run_id: str, params: dict, run_env: dict[str, str]) -> dict:
    """With param shadow_rebuild: the published layers rebuilt from scratch and compared with the run's
    build (include/publishing/shadow.py); otherwise nothing. run_env: dbt_layers.RUN_ENV, rendered."""
    from include.publishing.shadow import shadow_rebuild as rebuild_and_compare

    return rebuild_and_compare(run_id, bool(params.get("shadow_rebuild")), run_env)


def gate(run_id: str, params: dict | None = None) -> str:
    thresholds = load_pipeline_config().gate
    shadow = bool((params or {}).get("shadow_rebuild"))
    # The gate only reads and adds to what the run built: a missing warehouse is an error, not a new file.
    with connect_warehouse(must_exist=True) as db:
        colour = build.run_build(db, run_id).colour
        checks = run_gate(db.with_schemas(build.schema_map(colour)), run_id, thresholds, shadow_rebuild=shadow)
    return f"{len(checks)} checks on the {colour} build; {describe_warehouse()}"


def publish(run_id: str) -> Published:
    with connect_warehouse(must_exist=True) as db:
        return publish_build(db, run_id)


def export_features(run_ids: list[str | None]) -> list[dict]:
    """customer_features_export's task: a snapshot per announced run still published (none announced:
    the run published now); a superseded run is skipped, its successor's event exports the newer one."""
    from include.publishing.export import Superseded
    from include.publishing.export import export_features as write_snapshot

    out, snapshots = settings.export_dir(), []
    with connect_warehouse(must_exist=True) as db:
        for run_id in run_ids or [None]:
            try:
                snapshots.append(write_snapshot(db, out, run_id).as_dict())
            except Superseded as exc:
                log.warning("skipped: %s", exc)
    return snapshots
