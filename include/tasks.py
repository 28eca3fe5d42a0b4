"""What the customer_360 DAG's Python tasks do; the DAG file only wires them."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from include import settings
from include.contracts import load_sources
from include.dq_gate import run_gate
from include.landing import prepare_landing
from include.loader import load_source
from include.pipeline_config import load_pipeline_config
from include.warehouse import connect

log = logging.getLogger(__name__)


def prepare(params: dict) -> str:
    return prepare_landing(params["source_dir"], int(params["num_customers"]), int(params["seed"]))


def load(source_name: str, source_dir: str, run_id: str) -> list[dict]:
    source = load_sources()[source_name]
    with connect() as con:
        results = load_source(con, source, Path(source_dir), run_id)
    return [asdict(r) for r in results]


def gate(run_id: str) -> str:
    thresholds = load_pipeline_config().gate
    with connect() as con:
        checks = run_gate(con, run_id, thresholds)
    return f"{len(checks)} checks; warehouse {settings.duckdb_path()}"
