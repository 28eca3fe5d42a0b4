"""Connections to the DuckDB warehouse, with errors that tell on-call what to do."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from include import settings

RETRY_HINT = "then clear this task to retry"


class WarehouseUnavailable(Exception):
    """The warehouse file cannot be opened (locked, read-only, or missing when it must exist)."""


def _missing(path: Path) -> WarehouseUnavailable:
    return WarehouseUnavailable(
        f"warehouse {path} does not exist: run the customer_360 DAG first, or set C360_DUCKDB_PATH to the "
        f"warehouse file the DAG writes; {RETRY_HINT}"
    )


def _explain(path: Path, exc: duckdb.Error, read_only: bool) -> WarehouseUnavailable:
    text = str(exc)
    first = text.splitlines()[0]
    lowered = text.lower()
    if "lock" in lowered:
        return WarehouseUnavailable(
            f"warehouse {path} is locked by another process ({first}); DuckDB takes one writer: wait for it to "
            f"finish or stop it, {RETRY_HINT}"
        )
    if "permission denied" in lowered or "read-only file system" in lowered:
        mode = "readable" if read_only else "writable"
        return WarehouseUnavailable(
            f"warehouse {path} is not {mode} by this process ({first}): give the Airflow worker's user "
            f"{'read' if read_only else 'write'} access to the file and its folder (a .wal file is written next "
            f"to it), or set C360_DUCKDB_PATH to a {mode} location; {RETRY_HINT}"
        )
    if "does not exist" in lowered or "no such file" in lowered:
        return _missing(path)
    return WarehouseUnavailable(f"cannot open warehouse {path}: {text}")


@contextmanager
def connect(path: Path | None = None, read_only: bool = False,
            must_exist: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection in UTC. A writer creates a missing file unless must_exist (a reader never does):
    a task that only reads or adds to what earlier tasks built must not start an empty warehouse."""
    path = Path(path or settings.duckdb_path())
    if (read_only or must_exist) and not path.exists():
        raise _missing(path)
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = "is read-only" if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else "cannot be made"
            raise WarehouseUnavailable(
                f"warehouse folder {path.parent} {reason} ({exc.strerror}): create it with write access for the "
                f"Airflow worker's user, or set C360_DUCKDB_PATH to a writable location; {RETRY_HINT}"
            ) from exc
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise _explain(path, exc, read_only) from exc
    try:
        # Set after connecting: as a connect option DuckDB would need to autoload ICU first.
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()
