"""The project reads only its own files: a user's clone has no shared folder beside it."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT
from tests.support import repository_bounds

# Every module of the project imported, every DAG parsed and the contracts read, under the audit hook.
IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
from tests.support import repository_bounds
assert repository_bounds.watch()
sys.path.append("plugins")  # Airflow puts its plugins folder on the path
importlib.import_module("c360_review_plugin")
for package in ("include", "bench", "c360_review"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder="dags")
assert bag.dags and not bag.import_errors, bag.import_errors
from include.contracts import load_sources, output_tables
load_sources(); output_tables()
for path in sorted(set(repository_bounds.outside_reads)):
    print("outside-read:", path)
"""

# Ways code names a file beside the repository.
SIBLING_PATH = re.compile(r"\.\./shared|parents?\s*/\s*[\"']shared|PROJECT_ROOT\.parent|\.parent\.parent")


@pytest.mark.skipif(PROJECT_ROOT.parent == PROJECT_ROOT.parent.parent, reason="the repository has no siblings")
def test_importing_every_module_and_parsing_every_dag_reads_nothing_beside_the_repository() -> None:
    proc = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.returncode == 0, proc.stderr[-4000:]
    outside = [line for line in proc.stdout.splitlines() if line.startswith("outside-read:")]
    assert not outside, outside


def test_the_guard_sees_a_read_beside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> None:
    if not repository_bounds.watch():
        pytest.skip("the repository has no siblings")
    before = len(repository_bounds.outside_reads)
    # The team's folder a user's clone lacks: a sibling whether or not it is there.
    sibling = PROJECT_ROOT.parent.joinpath("shared", "contracts", "outputs.yml")
    with contextlib.suppress(OSError):  # the hook fires before the file system answers: a missing file counts
        sibling.read_text()
    assert repository_bounds.outside_reads[before:] == [str(sibling)]
    del repository_bounds.outside_reads[before:]  # the guard of this very test must not fail it


def test_no_source_file_names_a_path_beside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.split()
    allowed = {"tests/unit/test_contracts.py", "tests/support/repository_bounds.py",
               "tests/unit/test_repository_bounds.py"}
    offending = [
        f"{name}:{number}: {line.strip()}"
        for name in tracked
        if name.endswith((".py", ".yml", ".yaml", ".toml", ".cfg", ".sh")) or name in {"Makefile", "Dockerfile"}
        if name not in allowed and (PROJECT_ROOT / name).is_file()
        for number, line in enumerate((PROJECT_ROOT / name).read_text(errors="replace").splitlines(), 1)
        if SIBLING_PATH.search(line)
    ]
    assert not offending, offending
