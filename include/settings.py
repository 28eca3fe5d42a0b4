"""Where things are: every path and environment-driven setting of the project, read lazily."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# A different dbt project (tests inject a failing model into a copy) is chosen by environment.
DBT_PROJECT_DIR = Path(os.environ.get("C360_DBT_PROJECT_DIR") or PROJECT_ROOT / "dbt").resolve()
DBT_MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# The dbt installed beside this Python (the project's venv, or the image's), whatever PATH holds.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
PIPELINE_CONFIG = Path(os.environ.get("C360_PIPELINE_CONFIG") or PROJECT_ROOT / "include" / "pipeline.yml")
DATA_DIR = PROJECT_ROOT / "data"

# The project reads only its own files: include/contracts is the contract code and tests use. It may
# extend the team's shared contracts, never contradict them (tests/unit/test_contracts.py compares).
CONTRACTS_DIR = PROJECT_ROOT / "include" / "contracts"

TARGETS = ("duckdb", "snowflake")


def duckdb_path() -> Path:
    """The warehouse file: $C360_DUCKDB_PATH, else a git-ignored file inside the project."""
    explicit = os.environ.get("C360_DUCKDB_PATH")
    return Path(explicit).expanduser().resolve() if explicit else PROJECT_ROOT / "warehouse" / "c360.duckdb"


def export_dir() -> Path:
    """Where downstream hand-offs (the features export) write: $C360_EXPORT_DIR, else a git-ignored
    folder inside the project. A path an object-store mount or a sync job reads in production."""
    explicit = os.environ.get("C360_EXPORT_DIR")
    return Path(explicit).expanduser().resolve() if explicit else PROJECT_ROOT / "exports"


def default_source_dir() -> str:
    """The landing directory a run reads when none is given; empty means 'generate synthetic data'."""
    return os.environ.get("C360_SOURCE_DIR", "")


def target_name() -> str:
    """Which warehouse the DAG builds: duckdb (embedded default) or snowflake (production).

    Read when the DAG file is parsed: Cosmos renders the dbt task groups, and their profile, then.
    """
    target = os.environ.get("C360_TARGET", "").strip().lower() or "duckdb"
    if target not in TARGETS:
        raise ValueError(f"C360_TARGET={target!r} is not a known target; use one of: {', '.join(TARGETS)}")
    return target


def snowflake_conn_id() -> str:
    """The Airflow connection dbt (through Cosmos) and the Snowflake loader use."""
    return os.environ.get("C360_SNOWFLAKE_CONN_ID") or "snowflake_default"


# DuckDB takes one writing process, so its writers share a one-slot pool; Snowflake takes concurrent
# writers, so there the tasks use Airflow's default pool (None).
DUCKDB_POOL: str | None = "duckdb" if target_name() == "duckdb" else None
