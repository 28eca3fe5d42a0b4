"""The dbt models pass sqlfluff with the project's own config (dbt/.sqlfluff), as `make lint` runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from include import settings

pytestmark = pytest.mark.slow  # sqlfluff renders and parses every model: about 35 s


def test_models_pass_sqlfluff() -> None:
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    proc = subprocess.run([str(sqlfluff), "lint", "models", "--format", "human"],
                          cwd=settings.PROJECT_ROOT / "dbt", capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
