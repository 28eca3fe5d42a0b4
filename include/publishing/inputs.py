"""What a build is made from, as one fingerprint: the landing files loaded now (source, name,
SHA-256 from audit.load_batches), the dbt project's files (models, macros, seeds such as the
exclusion lists, tests) and the run's values that reach dbt (reference date, stitching limits).

A run whose fingerprint equals the published build's would rebuild exactly what readers already
see, so it builds nothing (customer_360's plan_build skips the layers, the gate and publish). The
fingerprint over-approximates: any change it sees triggers a full build, none is ever missed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from include import settings
from include.warehouse.db import Db

# dbt's own output and caches, not inputs.
NOT_INPUTS = {"target", "logs", "dbt_packages", ".user.yml", "package-lock.yml"}


def project_files(project_dir: Path) -> list[Path]:
    return sorted(p for p in project_dir.rglob("*")
                  if p.is_file() and not NOT_INPUTS & set(p.relative_to(project_dir).parts))


def inputs_fingerprint(db: Db, run_values: Mapping[str, str], project_dir: Path | None = None) -> str:
    project_dir = project_dir or settings.DBT_PROJECT_DIR
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode())

    if db.table_exists("audit.load_batches"):
        for row in db.rows("select source, file_name, content_sha256 from audit.load_batches "
                           "where coalesce(is_current, true) order by source, file_name"):
            add("file", *row)
    for path in project_files(project_dir):
        add("project", path.relative_to(project_dir).as_posix(), hashlib.sha256(path.read_bytes()).hexdigest())
    for name, value in sorted(run_values.items()):
        add("value", name, value)
    return digest.hexdigest()
