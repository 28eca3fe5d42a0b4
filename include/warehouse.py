"""Connections to the DuckDB warehouse, with errors that tell on-call what to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from include import settings


class WarehouseUnavailable(Exception):
    """The warehouse file cannot be opened (locked, read-only, or missing when it must exist)."""


@contextmanager
def connect(path: Path | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = Path(path or settings.duckdb_path())
    if read_only and not path.exists():
        raise WarehouseUnavailable(f"warehouse {path} does not exist: run the customer_360 DAG first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise WarehouseUnavailable(
                f"warehouse {path} is locked by another process ({text.splitlines()[0]}); DuckDB takes one "
                "writer: wait for it to finish or stop it, then clear this task to retry"
            ) from exc
        raise WarehouseUnavailable(f"cannot open warehouse {path}: {text}") from exc
    try:
        # Set after connecting: as a connect option DuckDB would need to autoload ICU first.
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()
