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


class RunsOverlap(Exception):
    """Another run of the DAG is active: runs rebuild the same tables and must not interleave."""


def check_sole_active_run() -> None:
    """Refuse to start a run while another run of the same DAG is running (call it from the run's first
    task). The DAG's max_active_runs=1 holds scheduled and manual runs back, but a backfill counts only
    against its own --max-active-runs (default 10), beside any scheduled run: the one-slot pool would
    keep DuckDB from a lock error, yet the runs' layers would interleave, one run's marts built from
    another's staging."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    ti, dag_run = context["ti"], context["dag_run"]
    running = ti.get_dr_count(dag_id=ti.dag_id, states=["running"])
    if running > 1:
        raise RunsOverlap(
            f"{running - 1} other {ti.dag_id} run(s) are running; runs share one warehouse and must run one "
            f"after another, so run {dag_run.run_id} was not started. A backfill needs `airflow backfill create "
            f"--max-active-runs 1`; otherwise clear this task when the other run has finished (a run whose process "
            f"was killed stays 'running' until it is marked failed in the UI or the REST API)"
        )
