"""The hand-off downstream of a publish: the published feature view as a dated Parquet snapshot,
what a reverse-ETL sync or an ML job reads. Idempotent per published run: a snapshot already written
for it is kept, not rewritten.

The rows are read from the build schema of the published run, not through the contract view: that
build cannot change until the run after next, so the snapshot is that run's even if another publish
lands while it is written (checked after the read).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from include.publishing.build import published_build, schema_map
from include.publishing.publish import FEATURE_VIEW
from include.warehouse.db import Db

log = logging.getLogger(__name__)


class Superseded(Exception):
    """The run asked for is no longer the published one; its own asset event exported the newer one."""


@dataclass(frozen=True)
class Snapshot:
    run_id: str
    path: str
    rows: int
    written: bool  # False: the snapshot existed (the same event handled twice)

    def as_dict(self) -> dict:
        return asdict(self)


def snapshot_path(out_dir: Path, run_id: str, published_on: str) -> Path:
    """<out>/customer_features/dt=<published date>/<run id made file-safe>.parquet"""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return out_dir / "customer_features" / f"dt={published_on}" / f"{safe}.parquet"


def export_features(db: Db, out_dir: Path, run_id: str | None = None) -> Snapshot:
    """Write the published run's feature view (run_id: the run an asset event announced; None: the
    run published now). Raises Superseded when run_id is not the published run."""
    build = published_build(db)
    if build is None:
        raise LookupError("nothing is published yet: run customer_360 until its gate passes")
    if run_id is not None and build.run_id != run_id:
        raise Superseded(f"run {run_id} is no longer published ({build.run_id} is)")
    path = snapshot_path(out_dir, build.run_id, f"{build.published_at:%Y-%m-%d}")
    if path.exists():
        rows = pq.read_metadata(path).num_rows
        log.info("snapshot of run %s already written: %s (%d rows)", build.run_id, path, rows)
        return Snapshot(build.run_id, str(path), rows, written=False)
    table = pa.Table.from_pylist(db.with_schemas(schema_map(build.colour)).dicts(
        f"select * from {FEATURE_VIEW} order by user_id"))
    after = published_build(db)
    if after is None or after.run_id != build.run_id:
        raise Superseded(f"run {build.run_id} was superseded while its snapshot was read")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(table, partial)
    os.replace(partial, path)  # readers never see a half-written snapshot
    log.info("wrote %s: %d rows of %s from run %s", path, table.num_rows, FEATURE_VIEW, build.run_id)
    return Snapshot(build.run_id, str(path), table.num_rows, written=True)
