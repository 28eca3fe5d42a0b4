"""Helpers of the fault tests: content hashes of the contract tables, the loader and dbt as separate
processes that a test can SIGKILL half-way, and a way to take root's override of file permissions.

Run as a module, it is the loader process the tests kill: `python -m tests.support.fault_helpers LANDING RUN_ID
[SOURCE ...]` loads the sources one after another through include.orchestration.tasks.load (what the DAG's load tasks
call), printing `start <source>` before and `done <source> <seconds>` after each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from include.contracts import output_tables
from tests.conftest import BIN, PROJECT_ROOT

OUTPUTS = output_tables()
# Contract columns whose value is the wall clock of the run, not its content.
VOLATILE = {"audit.dq_gate_results": {"checked_at"}}


# Contract tables written by the DAG's publish task, not by dbt.
PUBLISH_ONLY = {"stitching.user_main_id_changes"}


def contract_hashes(warehouse: Path) -> dict[str, tuple[int, str]]:
    """(rows, md5 of the sorted rows) of every contract table, over its contract columns. The tables
    only a DAG's publish writes (stitching.user_main_id_changes) are left out where a plain dbt build
    made the warehouse."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        published = con.execute("select count(*) from audit.builds").fetchone()[0] if con.execute(
            "select count(*) from information_schema.tables where table_schema = 'audit' and table_name = 'builds'"
        ).fetchone()[0] else 0
        for table, spec in OUTPUTS.items():
            if table in PUBLISH_ONLY and not published:
                continue
            columns = [c for c in spec["columns"] if c not in VOLATILE.get(table, set())]
            row = "to_json(struct_pack(" + ", ".join(f'"{c}" := "{c}"' for c in columns) + "))::varchar"
            out[table] = con.execute(
                f"select count(*), md5(coalesce(string_agg(r, chr(10) order by r), '')) "
                f"from (select {row} as r from {table})").fetchone()
    return out


def no_root_override() -> list[str]:
    """A command prefix under which file permissions apply: root (CI containers) otherwise writes to a
    read-only file; without CAP_DAC_OVERRIDE it is held to the file's mode like any user."""
    if os.geteuid() != 0:
        return []
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


def python(env: dict[str, str], code: str, timeout: int = 300, prefix: list[str] | None = None
           ) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def dbt(env: dict[str, str], *args: str) -> list[str]:
    """The dbt command line against the project's own dbt folder, with logs and artifacts in the test's
    own target folder (C360_FAULTS_TARGET), so concurrent users of the checkout are not touched."""
    target = env["C360_FAULTS_TARGET"]
    return [str(BIN / "dbt"), *args, "--project-dir", str(PROJECT_ROOT / "dbt"), "--profiles-dir",
            str(PROJECT_ROOT / "dbt"), "--target-path", target, "--log-path", target]


def run_dbt(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(dbt(env, *args), env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}{proc.stderr[-2000:]}"
    return proc


def kill_when(proc: subprocess.Popen, seen: str, delay: float = 0.0, timeout: float = 300) -> tuple[str, str]:
    """Read proc's stdout until a line holds `seen`, wait `delay` seconds, SIGKILL it; returns (the
    output before the kill, the output after it). Fails when the process ends before the line."""
    before: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        before.append(line)
        if seen in line:
            break
        assert time.monotonic() < deadline, f"{seen!r} not seen within {timeout} s"
    else:
        raise AssertionError(f"the process ended before {seen!r}:\n{''.join(before)[-6000:]}")
    time.sleep(delay)
    assert proc.poll() is None, f"the process ended before the kill:\n{''.join(before)[-6000:]}"
    proc.kill()
    after = proc.stdout.read()
    proc.wait()
    return "".join(before), after


def _load(landing: Path, run_id: str, names: list[str]) -> None:
    from include.contracts import load_sources
    from include.orchestration import tasks

    for name in names or list(load_sources()):
        print(f"start {name}", flush=True)
        started = time.monotonic()
        tasks.load(name, str(landing), run_id)
        print(f"done {name} {time.monotonic() - started:.3f}", flush=True)


if __name__ == "__main__":
    _load(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
