"""dbt run outside Cosmos, the way the deployment's Cosmos tasks run it: a `dbt` subprocess through the
deployment's dbt profile (Cosmos ProfileConfig.ensure_profile: dbt/profiles.yml for DuckDB, the
profile built from the Airflow connection for Snowflake) with the environment every dbt invocation
of the DAG gets (dbt_profiles.dbt_env_vars). Used by the on-call rule preview and the shadow rebuild.

dbt's artifacts and logs go to a temporary directory: the project's own target/ holds the manifest
the DAG is rendered from, which a build outside Cosmos must not overwrite.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from include import settings
from include.orchestration import dbt_profiles


@dataclass(frozen=True)
class DbtInvocation:
    returncode: int
    output: str
    # run_results.json's results and manifest.json's nodes of the invocation (empty when dbt wrote none).
    results: list[dict] = field(default_factory=list)
    nodes: dict[str, dict] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def errors(self) -> str:
        """What to show when it failed: dbt's error lines, else the end of its output."""
        lines = self.output.splitlines()
        found = [line for line in lines if "ERROR" in line or "Error" in line][-10:]
        return "\n".join(found or lines[-20:])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def run_dbt(
    args: Sequence[str], env: Mapping[str, str], project_dir: Path | None = None, timeout: int = 3600
) -> DbtInvocation:
    """`dbt <args>` on the project (default: the deployed one) with env on top of the deployment's dbt
    environment (per-run values: C360_BUILD_COLOUR, C360_AIRFLOW_RUN_ID, ...)."""
    project = Path(project_dir or settings.DBT_PROJECT_DIR)
    profile = dbt_profiles.profile_config()
    with tempfile.TemporaryDirectory(prefix="c360_dbt_") as tmp, profile.ensure_profile() as (path, profile_env):
        target = Path(tmp) / "target"
        command = [
            settings.DBT_EXECUTABLE,
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(path.parent),
            "--profile",
            profile.profile_name,
            "--target",
            profile.target_name,
            "--target-path",
            str(target),
            "--log-path",
            str(Path(tmp) / "logs"),
        ]
        proc = subprocess.run(
            command,
            cwd=project,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **dbt_profiles.dbt_env_vars(), **profile_env, **env},
        )
        return DbtInvocation(
            proc.returncode,
            proc.stdout + proc.stderr,
            _read_json(target / "run_results.json").get("results", []),
            _read_json(target / "manifest.json").get("nodes", {}),
        )
