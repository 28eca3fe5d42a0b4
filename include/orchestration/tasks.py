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
from include.quality.gate import run_gate
from include.warehouse import connect_warehouse, describe_warehouse

log = logging.getLogger(__name__)


def prepare(params: dict) -> str:
    # The param schema already refuses another target; this also covers runs made without validation.
    from include.orchestration.run_guard import check_sole_active_run

    dbt_profiles.check_requested_target(params.get("target"))
    check_sole_active_run()
    return prepare_landing(params["source_dir"], int(params["num_customers"]), int(params["seed"]))


def load(source_name: str, source_dir: str, run_id: str) -> list[dict]:
    source = load_sources()[source_name]
    if settings.target_name() == "snowflake":
        from include.loading.snowflake_loader import load_source_snowflake

        results = load_source_snowflake(source, Path(source_dir), run_id)
        return [asdict(r) for r in results]
    from include.loading.duckdb_loader import load_source
    from include.warehouse.duckdb_file import connect

    with connect() as con:
        results = load_source(con, source, Path(source_dir), run_id)
    return [asdict(r) for r in results]


def gate(run_id: str) -> str:
    thresholds = load_pipeline_config().gate
    # The gate only reads and adds to what the run built: a missing warehouse is an error, not a new file.
    with connect_warehouse(must_exist=True) as db:
        checks = run_gate(db, run_id, thresholds)
    return f"{len(checks)} checks; {describe_warehouse()}"
