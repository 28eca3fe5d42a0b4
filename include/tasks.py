"""What the customer_360 DAG's Python tasks do; the DAG file only wires them."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from include import settings, targets
from include.contracts import load_sources
from include.dq_gate import run_gate
from include.landing import prepare_landing
from include.loader import load_source
from include.pipeline_config import load_pipeline_config
from include.warehouse import connect

log = logging.getLogger(__name__)


def prepare(params: dict) -> str:
    # The param schema already refuses another target; this also covers runs made without validation.
    targets.check_requested_target(params.get("target"))
    return prepare_landing(params["source_dir"], int(params["num_customers"]), int(params["seed"]))


def load(source_name: str, source_dir: str, run_id: str) -> list[dict]:
    source = load_sources()[source_name]
    if settings.target_name() == "snowflake":
        from include.snowflake_loader import load_source_snowflake

        results = load_source_snowflake(source, Path(source_dir), run_id)
        return [asdict(r) for r in results]
    with connect() as con:
        results = load_source(con, source, Path(source_dir), run_id)
    return [asdict(r) for r in results]


def gate(run_id: str) -> str:
    if settings.target_name() == "snowflake":
        # include/dq_gate.py speaks DuckDB SQL to a DuckDB connection; failing here keeps a Snowflake
        # run from ending green without its gate.
        raise NotImplementedError(
            "dq_gate has no Snowflake implementation yet (include/dq_gate.py queries DuckDB); "
            "the run's dbt results are in audit.dbt_results on Snowflake"
        )
    thresholds = load_pipeline_config().gate
    with connect() as con:
        checks = run_gate(con, run_id, thresholds)
    return f"{len(checks)} checks; warehouse {settings.duckdb_path()}"
