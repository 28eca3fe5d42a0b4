"""Which colour a run builds, which one readers see, and how to read a given build.

The published layers (dbt var `published_layers`: stitching, marts, analytics) exist twice in the
warehouse, `<layer>__blue` and `<layer>__green`. The contract names (`marts.with_user_id`, ...) are
views on one colour, the published one; a run builds the other colour, so a rejected build is never
what readers see. audit.builds has a row per build a run started and says which one is published.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import yaml

from include import settings
from include.warehouse.db import Db

COLOURS = ("blue", "green")

DDL = (
    "create schema if not exists audit",
    """create table if not exists audit.builds (
        run_id varchar not null,
        colour varchar not null,
        started_at timestamp not null,
        published_at timestamp
    )""",
    # added after the table first shipped (include/publishing/inputs.py)
    "alter table audit.builds add column if not exists inputs_fingerprint varchar",
)


@cache
def published_layers() -> tuple[str, ...]:
    """The layers built out of sight; one list, in dbt_project.yml, read by dbt and by this."""
    project = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return tuple(project["vars"]["published_layers"])


def build_schema(layer: str, colour: str) -> str:
    return f"{layer}__{colour}"


def schema_map(colour: str) -> dict[str, str]:
    """Contract schema -> the schema a build of that colour wrote."""
    return {layer: build_schema(layer, colour) for layer in published_layers()}


@dataclass(frozen=True)
class Build:
    run_id: str
    colour: str
    started_at: datetime
    published_at: datetime | None
    inputs_fingerprint: str | None = None


def _builds(db: Db, where: str = "", params: tuple = ()) -> list[Build]:
    if not db.table_exists("audit.builds"):
        return []
    # read-only readers of a warehouse from before inputs_fingerprint see none
    fingerprint = "inputs_fingerprint" if "inputs_fingerprint" in db.columns("audit.builds") else "null"
    return [Build(*row) for row in db.rows(
        f"select run_id, colour, started_at, published_at, {fingerprint} from audit.builds {where} "
        "order by started_at desc", params)]


def published_build(db: Db) -> Build | None:
    """The build readers see now, or None before the first publish."""
    found = _builds(db, "where published_at is not null")
    return max(found, key=lambda b: b.published_at) if found else None


def latest_build(db: Db) -> Build | None:
    """The most recent build a run started: what the latest gate judged, published or not."""
    found = _builds(db)
    return found[0] if found else None


def run_build(db: Db, run_id: str) -> Build:
    found = _builds(db, "where run_id = ?", (run_id,))
    if not found:
        raise LookupError(f"run {run_id} planned no build (audit.builds has no row for it)")
    return found[0]


class NothingNew(Exception):
    """The run's inputs are those of the published build: building again would change nothing."""


def plan_build(db: Db, run_id: str, inputs_fingerprint: str | None = None, rebuild: bool = False) -> str:
    """The colour this run builds: never the published one, so readers keep the last good build
    whatever this run does. Every plan is recorded (a re-run of the task adds a row). Raises
    NothingNew, recording nothing, when the published build was made from the same inputs
    (include/publishing/inputs.py), unless rebuild."""
    db.script(DDL)
    published = published_build(db)
    if published and inputs_fingerprint and published.inputs_fingerprint == inputs_fingerprint and not rebuild:
        raise NothingNew(
            f"nothing new since run {published.run_id}: the same landing files, dbt project and parameters "
            f"built the published {published.colour} build, so the layers, the gate and publish are skipped "
            "and readers keep it (full_refresh=true builds anyway)")
    colour = COLOURS[0] if published is None else next(c for c in COLOURS if c != published.colour)
    db.execute("insert into audit.builds (run_id, colour, started_at, inputs_fingerprint) "
               "values (?, ?, current_timestamp, ?)", (run_id, colour, inputs_fingerprint))
    return colour


# Which build a reader asks for: the latest (what the latest gate judged; what an alert names) or the
# published one (what readers see).
WHICH_BUILDS = ("latest", "published")


def reading(db: Db, which: str = "latest") -> Db:
    """db reading the contract names of the published layers from the build asked for. A warehouse
    built without the DAG (a plain `dbt build`) has no builds: the contract names are the tables."""
    if which not in WHICH_BUILDS:
        raise ValueError(f"build {which!r} is not one of: {', '.join(WHICH_BUILDS)}")
    build = latest_build(db) if which == "latest" else published_build(db)
    return db.with_schemas(schema_map(build.colour)) if build else db


@contextmanager
def connect_build(which: str = "latest", must_exist: bool = True) -> Iterator[Db]:
    """The deployment's warehouse reading the build asked for (see reading)."""
    from include.warehouse import connect_warehouse

    with connect_warehouse(must_exist=must_exist) as db:
        yield reading(db, which)
