"""Publish a build the gate passed: point the contract names at it, moving no data.

Every table of each published layer's build schema (`marts__green.with_user_id`) gets a view under
the contract name (`marts.with_user_id`), all switched in one transaction, so readers see the whole
previous build or the whole new one. (On Snowflake each DDL statement commits on its own: every view
switches atomically and the set within the few statements it takes; docs/operations.md.) A view the
build no longer has is dropped; a table under a contract name (a warehouse from before publishing
existed) is replaced by its view. The build's profile renames join their kept history (lineage.py).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass

from include.publishing import lineage
from include.publishing.build import build_schema, published_layers, run_build
from include.publishing.lineage import BUILD_MODEL
from include.warehouse.db import Db

log = logging.getLogger(__name__)

# The feature view the downstream DAGs read; its row count travels with the asset event.
FEATURE_VIEW = "marts.with_user_id"
# A model's own work and state tables (dbt's `__dbt_tmp`/`__dbt_backup`, connected_components'
# `__cc_state`, the incremental states `dim_customers__features`, `market_basket__pair_counts` and
# `product_performance__customers`) live beside it in the build schema; readers get no view of them.
INTERNAL = re.compile(r"__(dbt|cc)_|__(features|pair_counts|customers)$")


@dataclass(frozen=True)
class Published:
    run_id: str
    colour: str
    views: int
    feature_rows: int
    gate_status: str  # pass | warn

    def extra(self) -> dict:
        return asdict(self)


def _objects(db: Db, schema: str) -> dict[str, str]:
    """name -> 'view' | 'table' of the objects in a schema but models' internal ones, lower-case names.
    Views are listed apart: information_schema.tables lists them on DuckDB and Snowflake, not on the
    emulator."""
    def names(catalog: str) -> set[str]:
        return {str(n).lower() for (n,) in db.rows(
            f"select table_name from information_schema.{catalog} where upper(table_schema) = upper(?)", (schema,))}

    views, tables = names("views"), names("tables")
    objects = {**{name: "table" for name in tables - views}, **{name: "view" for name in views}}
    return {name: kind for name, kind in objects.items() if not INTERNAL.search(name)}


def gate_status(db: Db, run_id: str) -> str:
    """The run's gate verdict from audit.dq_gate_results; refuses to publish an unaudited build."""
    statuses = {s for (s,) in db.rows(
        "select distinct status from audit.dq_gate_results where run_id = ?", (run_id,))
    } if db.table_exists("audit.dq_gate_results") else set()
    if not statuses:
        raise RuntimeError(f"run {run_id} has no gate results: only a build the gate passed is published")
    if "fail" in statuses:
        raise RuntimeError(f"run {run_id} failed its gate: its build is not published")
    return "warn" if "warn" in statuses else "pass"


def publish(db: Db, run_id: str) -> Published:
    started = time.perf_counter()
    build = run_build(db, run_id)
    status = gate_status(db, run_id)
    built = {layer: _objects(db, build_schema(layer, build.colour)) for layer in published_layers()}
    statements = []
    for layer, objects in built.items():
        source = build_schema(layer, build.colour)
        if not objects:
            raise RuntimeError(f"run {run_id} built nothing in {source}")
        for name, kind in sorted(_objects(db, layer).items()):
            # Views of models the build no longer has go; tables under a contract name (from before
            # publishing) make way for views; other tables (kept across runs) stay.
            if kind == "view" and name not in objects:
                statements.append(f"drop view {layer}.{name}")
            elif kind == "table" and name in objects:
                statements.append(f"drop table {layer}.{name}")
        statements += [f"create or replace view {layer}.{name} as select * from {source}.{name}"
                       for name in sorted(objects)]
    # Schemas and the kept history first: creating them changes nothing readers see, and the emulator
    # cannot create a table inside a transaction.
    db.script([*(f"create schema if not exists {layer}" for layer in built), lineage.DDL])
    with db.transaction():
        db.script(statements)
        if BUILD_MODEL in built.get("stitching", {}):
            db.execute(lineage.append_sql(build.colour), (run_id,))
        db.execute("update audit.builds set published_at = current_timestamp "
                   "where run_id = ? and colour = ? and published_at is null", (run_id, build.colour))
    views = sum(len(objects) for objects in built.values())
    published = Published(run_id, build.colour, views, int(db.scalar(f"select count(*) from {FEATURE_VIEW}")), status)
    log.info("published run %s in %.2f s: %d views on the %s build; %s has %d rows", run_id,
             time.perf_counter() - started, views, build.colour, FEATURE_VIEW, published.feature_rows)
    return published
