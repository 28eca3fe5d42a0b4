"""Running the dbt project in-process on a DuckDB file, for the tests that build it: dbt() with the
artifacts out of the project's target/, load() through the product's loader, query(), and
copy_warehouse() (a warehouse copied as dbt-duckdb may have left it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
from dbt.cli.main import dbtRunner

from include.loading.duckdb_loader import load_all

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_DIR = PROJECT_ROOT / "dbt"
REFERENCE_DATE = "2026-11-01"


def dbt(warehouse: Path, tmp: Path, *args: str) -> None:
    """Run dbt in-process against warehouse; artifacts go to tmp, never to the project's target/."""
    previous = os.environ.get("C360_DUCKDB_PATH")
    os.environ["C360_DUCKDB_PATH"] = str(warehouse)
    try:
        result = dbtRunner().invoke([
            *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
            "--vars", f"{{reference_date: '{REFERENCE_DATE}'}}", "--quiet",
        ])
    finally:
        if previous is None:
            os.environ.pop("C360_DUCKDB_PATH", None)
        else:
            os.environ["C360_DUCKDB_PATH"] = previous
    failed = [f"{r.node.name}: {r.status} {r.message}" for r in (result.result or [])
              if str(r.status) in ("error", "fail")]
    assert result.success and not failed, f"dbt {' '.join(args)} failed: {result.exception or failed}"


def load(landing: Path, warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        load_all(con, landing, run_id="test")


def query(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse)) as con:
        return con.execute(sql).df()


def copy_warehouse(source: Path, target: Path) -> None:
    """dbt-duckdb keeps its in-process connection open, so recent writes may still sit in the WAL:
    checkpoint them into the file before copying it."""
    with duckdb.connect(str(source)) as con:
        con.execute("checkpoint")
    shutil.copy(source, target)
