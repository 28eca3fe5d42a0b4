"""The local Snowflake emulator (include/warehouse/emulator.py) as make run-fakesnow and the tests use it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from include.warehouse.emulator import Emulator, serve


def test_a_second_emulator_in_one_process_is_refused(snowflake_emulator: Emulator, tmp_path: Path) -> None:
    """fakesnow keeps the server's databases in one process-wide setting: a second server would take
    over the first one's logins, and closing it would break them."""
    with pytest.raises(RuntimeError, match="already runs in this process"), serve(tmp_path / "second"):
        pass
    assert not (tmp_path / "second").exists()


def test_a_user_of_the_emulator_gets_a_database_of_its_own(snowflake_emulator: Emulator) -> None:
    mine = replace(snowflake_emulator, database="c360_mine")
    assert mine.connection()["extra"]["database"] == "c360_mine"
    assert snowflake_emulator.connection()["extra"]["database"] == "c360"
    assert mine.connection()["extra"]["protocol"] == "http" and mine.connection()["extra"]["network_timeout"]
