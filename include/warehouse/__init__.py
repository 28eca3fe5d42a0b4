"""Warehouse access for every reader and writer outside dbt: the deployment's warehouse (C360_TARGET)
as a `Db`, whichever target it is. The DuckDB file itself is opened by `duckdb_file`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from include import settings
from include.warehouse.db import Db
from include.warehouse.snowflake import snowflake_hook


@contextmanager
def connect_warehouse(attempts: int = 1, must_exist: bool = False, read_only: bool = False) -> Iterator[Db]:
    """The deployment's warehouse (C360_TARGET) as a Db. DuckDB takes one writer, so a DuckDB open
    waits briefly for a running task; task code that only reads still opens read-write, because in the
    `airflow dags test` process dbt-duckdb keeps a read-write handle and DuckDB refuses a second
    handle with another mode in the same process.

    read_only: for readers in their own process (the review page, `make run`'s summary): DuckDB opens
    the file read-only (it must exist), so it never blocks a writer's open for longer than the read.
    A Snowflake session is not restricted by it: give such readers a role with SELECT only."""
    if settings.target_name() == "snowflake":
        with closing(snowflake_hook().get_conn()) as conn:
            yield Db(conn, "snowflake")
        return
    from include.warehouse.duckdb_file import WarehouseUnavailable, connect

    for attempt in range(attempts):
        opened = connect(read_only=read_only, must_exist=must_exist)
        try:
            con = opened.__enter__()
            break
        except WarehouseUnavailable:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    try:
        yield Db(con, "duckdb")
    finally:
        opened.__exit__(None, None, None)


def warehouse_location() -> str:
    """Where the deployment's warehouse is: the DuckDB file, or the Snowflake connection's id."""
    if settings.target_name() == "snowflake":
        return f"Snowflake connection {settings.snowflake_conn_id()}"
    return str(settings.duckdb_path())


def describe_warehouse() -> str:
    if settings.target_name() == "snowflake":
        return warehouse_location()
    return f"warehouse {warehouse_location()}"
