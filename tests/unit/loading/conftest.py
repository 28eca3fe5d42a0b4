"""The loading tests' Snowflake emulator: each test on a database of its own."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from include.warehouse.emulator import Emulator
from tests.support.snowflake_emulator import CONN_ID


@pytest.fixture
def snowflake_target(snowflake_target: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """The session's emulator, on a database of the test's own. Loads are incremental: on a shared
    database one test's landing files would be the next test's earlier batches, and their rows would
    stay in raw.<source> (a vanished file keeps its rows)."""
    own = replace(snowflake_target, database=f"c360_loading_{uuid.uuid4().hex[:12]}")
    for name, value in own.connection_env(CONN_ID).items():
        monkeypatch.setenv(name, value)
    return own
