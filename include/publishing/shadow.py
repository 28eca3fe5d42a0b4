"""The shadow full rebuild (customer_360 param `shadow_rebuild`): does the run's build equal a build
from scratch?

The run builds the published layers (stitching, marts, analytics) in its colour, partly incrementally
from that colour's previous build, which is two runs old or a refused build. When asked, this builds
the same layers again from scratch (`dbt build --full-refresh`, models and seeds, tests left to the
run's own layers) into the colour `shadow` (`stitching__shadow`, ...) with the run's own environment
(run id, reference date, stitching thresholds), then compares every relation dbt built there with the
run's build of it: row counts, and rows only in one of them (EXCEPT both ways, on every column but the
ones that only stamp which run built a row and when: `gate.shadow_rebuild.stamp_columns` of
include/pipeline.yml). One row per relation goes to audit.shadow_rebuilds; the gate's shadow_rebuild
check fails the run when any relation differs.

The shadow schemas are dropped when every relation is equal. When one differs they are kept for
on-call (the differing rows are `select ... from <layer>__<colour>.<model> except select ... from
<layer>__shadow.<model>`); the next shadow rebuild drops them before it builds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from include.orchestration.pipeline_config import load_pipeline_config
from include.publishing.build import build_schema, published_layers, run_build
from include.warehouse.db import Db, split_name

log = logging.getLogger(__name__)

COLOUR = "shadow"
AUDIT_TABLE = "audit.shadow_rebuilds"
AUDIT_DDL = (
    "create schema if not exists audit",
    f"""create table if not exists {AUDIT_TABLE} (
        run_id varchar, relation varchar, build_colour varchar, build_rows bigint, shadow_rows bigint,
        only_in_build bigint, only_in_shadow bigint, detail varchar, checked_at timestamp)""",
)
BUILT_TYPES = ("model", "seed")


class ShadowRebuildFailed(Exception):
    """The shadow build itself failed; the message has dbt's errors."""


@dataclass(frozen=True)
class RelationDiff:
    relation: str  # the contract name, e.g. stitching.user_id_stitcher
    build_rows: int | None  # None: the relation is missing on that side
    shadow_rows: int | None
    only_in_build: int = 0
    only_in_shadow: int = 0
    detail: str = ""  # what else differs: a missing relation, columns on one side only

    @property
    def differs(self) -> bool:
        return bool(self.detail or self.only_in_build or self.only_in_shadow or self.build_rows != self.shadow_rows)

    def describe(self) -> str:
        rows = f"build {_rows(self.build_rows)}, shadow {_rows(self.shadow_rows)}"
        text = f"{self.relation} ({rows}; {self.only_in_build:,} only in build, {self.only_in_shadow:,} only in shadow"
        return text + (f"; {self.detail})" if self.detail else ")")


def _rows(count: int | None) -> str:
    return "missing" if count is None else f"{count:,} row{'' if count == 1 else 's'}"


def stamp_columns() -> set[str]:
    """Columns left out of the comparison: they name the run that built a row, or when."""
    return {c.lower() for c in load_pipeline_config().gate["shadow_rebuild"]["stamp_columns"]}


def shadow_selectors() -> list[str]:
    """What the run's published layers select (include/pipeline.yml), in one list."""
    layers = set(published_layers())
    return [s for layer in load_pipeline_config().layers if layer.name in layers for s in layer.select]


def built_relations(nodes: Mapping[str, dict], unique_ids: Iterable[str] | None = None) -> list[str]:
    """Contract names (`<layer>.<alias>`) of the models and seeds among nodes (a dbt manifest's) that
    dbt materialises in the published layers; only those in unique_ids when given."""
    layers, wanted = set(published_layers()), None if unique_ids is None else set(unique_ids)
    found = set()
    for unique_id, node in nodes.items():
        config = node.get("config") or {}
        if (
            node.get("resource_type") in BUILT_TYPES
            and config.get("materialized") != "ephemeral"
            and config.get("schema") in layers
            and (wanted is None or unique_id in wanted)
        ):
            found.add(f"{config['schema']}.{node.get('alias') or node['name']}")
    return sorted(found)


# Floating-point columns are compared to this many digits after the first significant one: a float
# sum's last bits depend on the order the warehouse happens to add the rows in.
FLOAT_DIGITS = 9
FLOAT_TYPES = ("double", "float", "real")


def _schema(layer: str, colour: str | None) -> str:
    """Where a build of that colour wrote the layer; no colour: a plain `dbt build` (the contract names)."""
    return build_schema(layer, colour) if colour else layer


def _columns(db: Db, schemas: Iterable[str]) -> dict[tuple[str, str], dict[str, str]]:
    """(schema, table) -> {column: data type}, lower-case, for every table and view of the schemas."""
    wanted = sorted({s.upper() for s in schemas})
    found: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in db.rows(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        f"where upper(table_schema) in ({', '.join('?' for _ in wanted)})",
        wanted,
    ):
        found.setdefault((str(schema).lower(), str(table).lower()), {})[str(column).lower()] = str(data_type).lower()
    return found


def _compared(column: str, data_type: str) -> str:
    """A column as compared: a float as its exponent and its rounded mantissa (0 and null kept apart).
    Unquoted names: Snowflake keeps them upper-case, DuckDB matches them without case."""
    if not data_type.startswith(FLOAT_TYPES):
        return column
    exponent = f"floor(ln(abs(nullif({column}, 0))) / ln(10))"
    return (
        f"case when {column} = 0 then 0 else round({column} / power(10, {exponent}), {FLOAT_DIGITS}) end "
        f"as {column}__mantissa, {exponent} as {column}__exponent"
    )


def compare_relation(
    db: Db,
    relation: str,
    build: str,
    shadow: str,
    build_columns: dict[str, str],
    shadow_columns: dict[str, str],
    ignore: set[str],
) -> RelationDiff:
    """One relation: build and shadow are its two schema-qualified names, *_columns their columns."""
    if not build_columns or not shadow_columns:
        build_rows = int(db.scalar(f"select count(*) from {build}")) if build_columns else None
        shadow_rows = int(db.scalar(f"select count(*) from {shadow}")) if shadow_columns else None
        return RelationDiff(
            relation,
            build_rows,
            shadow_rows,
            build_rows or 0,
            shadow_rows or 0,
            f"missing in the {'shadow' if build_columns else 'build'}",
        )
    kept = {c: t for c, t in build_columns.items() if c not in ignore}
    kept_shadow = {c: t for c, t in shadow_columns.items() if c not in ignore}
    detail = "; ".join(
        f"columns only in the {side}: {', '.join(sorted(cols))}"
        for side, cols in (("build", kept.keys() - kept_shadow.keys()), ("shadow", kept_shadow.keys() - kept.keys()))
        if cols
    )
    columns = ", ".join(_compared(c, kept[c]) for c in sorted(kept.keys() & kept_shadow.keys())) or "1 as none"
    counts = db.one(
        f"select (select count(*) from {build}), (select count(*) from {shadow}), "
        f"(select count(*) from (select {columns} from {build} except select {columns} from {shadow}) as b), "
        f"(select count(*) from (select {columns} from {shadow} except select {columns} from {build}) as s)"
    )
    build_rows, shadow_rows, only_in_build, only_in_shadow = (int(n) for n in counts)
    return RelationDiff(relation, build_rows, shadow_rows, only_in_build, only_in_shadow, detail)


def compare(
    db: Db, build_colour: str | None, relations: Iterable[str], ignore: set[str] | None = None
) -> list[RelationDiff]:
    """Every relation (contract name) of the build against its shadow rebuild; db reads the warehouse
    unmapped. Columns in ignore (default: the stamp columns) are left out."""
    ignore = stamp_columns() if ignore is None else ignore
    layers = published_layers()
    columns = _columns(db, [_schema(layer, c) for layer in layers for c in (build_colour, COLOUR)])
    diffs = []
    for relation in relations:
        layer, name, _ = split_name(relation)
        build, shadow = _schema(layer, build_colour), _schema(layer, COLOUR)
        diffs.append(
            compare_relation(
                db,
                relation,
                f"{build}.{name}",
                f"{shadow}.{name}",
                columns.get((build.lower(), name.lower()), {}),
                columns.get((shadow.lower(), name.lower()), {}),
                ignore,
            )
        )
    return diffs


def record(db: Db, run_id: str, build_colour: str, diffs: list[RelationDiff]) -> None:
    """Replace the run's rows of audit.shadow_rebuilds (a re-run of the task leaves one row per relation)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    db.script(AUDIT_DDL)
    with db.transaction():
        db.execute(f"delete from {AUDIT_TABLE} where run_id = ?", (run_id,))
        db.execute_many(
            f"insert into {AUDIT_TABLE} (run_id, relation, build_colour, build_rows, shadow_rows, only_in_build, "
            "only_in_shadow, detail, checked_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    d.relation,
                    build_colour,
                    d.build_rows,
                    d.shadow_rows,
                    d.only_in_build,
                    d.only_in_shadow,
                    d.detail,
                    now,
                )
                for d in diffs
            ],
        )


def recorded(db: Db, run_id: str) -> list[RelationDiff]:
    """The run's comparison as audit.shadow_rebuilds holds it (none: no shadow rebuild ran)."""
    if not db.table_exists(AUDIT_TABLE):
        return []
    return [
        RelationDiff(
            relation,
            None if built is None else int(built),
            None if shadow is None else int(shadow),
            int(only_built or 0),
            int(only_shadow or 0),
            detail or "",
        )
        for relation, built, shadow, only_built, only_shadow, detail in db.rows(
            f"select relation, build_rows, shadow_rows, only_in_build, only_in_shadow, detail from {AUDIT_TABLE} "
            "where run_id = ? order by relation",
            (run_id,),
        )
    ]


def drop_shadow(db: Db) -> None:
    db.script([f"drop schema if exists {build_schema(layer, COLOUR)} cascade" for layer in published_layers()])


def rebuild(run_env: Mapping[str, str]) -> list[str]:
    """Build the published layers from scratch into the shadow colour; returns the relations built."""
    from include.orchestration.dbt_cli import run_dbt

    built = run_dbt(
        [
            "build",
            "--select",
            *shadow_selectors(),
            "--resource-type",
            "model",
            "--resource-type",
            "seed",
            "--full-refresh",
        ],
        {**run_env, "C360_BUILD_COLOUR": COLOUR},
    )
    if not built.ok:
        raise ShadowRebuildFailed(f"the shadow rebuild's dbt build failed (exit {built.returncode}):\n{built.errors()}")
    relations = built_relations(built.nodes, (r["unique_id"] for r in built.results if r.get("status") == "success"))
    if not relations:
        raise ShadowRebuildFailed("the shadow rebuild built no relation of the published layers:\n" + built.errors())
    return relations


def report(diffs: list[RelationDiff], build_colour: str) -> str:
    differing = [d for d in diffs if d.differs]
    head = (
        f"{len(differing)} of {len(diffs)} relations of the {build_colour} build differ from a full rebuild"
        if differing
        else f"all {len(diffs)} relations of the {build_colour} build equal a full rebuild"
    )
    lines = [
        head,
        *(f"  DIFFERS {d.describe()}" for d in differing),
        *(f"  equal   {d.relation} ({_rows(d.build_rows)})" for d in diffs if not d.differs),
    ]
    if differing:
        kept = ", ".join(build_schema(layer, COLOUR) for layer in published_layers())
        lines.append(f"the shadow tables are kept for on-call in {kept}")
    return "\n".join(lines)


def shadow_rebuild(run_id: str, requested: bool, run_env: Mapping[str, str]) -> dict:
    """The DAG task: when requested, rebuild from scratch, compare, record, drop the shadow when equal.
    run_env: the run's dbt environment as its Cosmos tasks get it (dbt_layers.RUN_ENV, rendered). No
    connection is held while dbt builds: DuckDB takes one writing process."""
    from include.warehouse import connect_warehouse

    if not requested:
        log.info(
            "param shadow_rebuild is off: no shadow rebuild for run %s (the gate reports it as not requested)", run_id
        )
        return {"requested": False}
    with connect_warehouse(must_exist=True) as db:
        colour = run_build(db, run_id).colour
        drop_shadow(db)  # what a differing earlier rebuild left for on-call
    log.info(
        "rebuilding %s from scratch into colour %s to compare with the %s build",
        ", ".join(published_layers()),
        COLOUR,
        colour,
    )
    relations = rebuild(run_env)
    with connect_warehouse(must_exist=True) as db:
        diffs = compare(db, colour, relations)
        record(db, run_id, colour, diffs)
        differing = [d for d in diffs if d.differs]
        if not differing:
            drop_shadow(db)
    log.info(
        "shadow rebuild (rows in %s; the gate's shadow_rebuild check judges it):\n%s",
        AUDIT_TABLE,
        report(diffs, colour),
    )
    return {
        "requested": True,
        "build_colour": colour,
        "relations": len(diffs),
        "differing": [asdict(d) for d in differing],
    }
