"""Fixtures for tests that run product code against the Snowflake emulator (fakesnow's HTTP server,
include/warehouse/emulator.py), the way a deployment with C360_TARGET=snowflake reaches Snowflake.

Import the fixtures into a test module (`from tests.support.snowflake_emulator import snowflake_emulator,
snowflake_target`): one emulator per test session, its databases kept in one folder; every test
that asks for `snowflake_target` talks to it through the product's own hook (snowflake_hook) with the
connection's timeouts, so a statement the emulator answers with HTTP 500 fails within seconds
instead of being retried for minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from include.warehouse.emulator import Emulator, serve

CONN_ID = "snowflake_default"


@pytest.fixture(scope="session")
def snowflake_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with serve(tmp_path_factory.mktemp("snowflake_emulator")) as emulator:
        yield emulator


@pytest.fixture
def snowflake_target(snowflake_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Emulator:
    """The deployment's target is Snowflake, and the Snowflake connection is the emulator."""
    for name, value in snowflake_emulator.connection_env(CONN_ID).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("C360_TARGET", "snowflake")
    monkeypatch.delenv("C360_SNOWFLAKE_CONN_ID", raising=False)
    # Anything that writes next to the DuckDB warehouse (e.g. the alert spool) stays out of the project.
    monkeypatch.setenv("C360_DUCKDB_PATH", str(tmp_path / "unused.duckdb"))
    return snowflake_emulator


@pytest.fixture
def snowflake_cursor(snowflake_target: Emulator) -> Iterator[Any]:
    """A cursor of the test's own on the emulator, opened by the product's hook."""
    from include.warehouse.snowflake import snowflake_hook

    with closing(snowflake_hook().get_conn()) as conn, closing(conn.cursor()) as cur:
        yield cur


@pytest.fixture(params=["duckdb", "snowflake"])
def either_warehouse(request: pytest.FixtureRequest, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An empty warehouse of each target (a DuckDB file; a database of its own on the emulator), as a
    Db opened the way the deployment opens it (connect_warehouse)."""
    import uuid
    from dataclasses import replace

    from include.warehouse import connect_warehouse

    monkeypatch.setenv("C360_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    if request.param == "snowflake":
        emulator = replace(request.getfixturevalue("snowflake_emulator"), database=f"t_{uuid.uuid4().hex[:10]}")
        for name, value in emulator.connection_env(CONN_ID).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("C360_TARGET", "snowflake")
        monkeypatch.delenv("C360_SNOWFLAKE_CONN_ID", raising=False)
    with connect_warehouse() as db:
        yield db
