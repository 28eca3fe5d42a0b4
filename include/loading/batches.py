"""Which landing files a load reads, and the SQL both loaders share to keep audit.load_batches.

The landing contract is append-only: a run reads only the files it has not loaded yet.

- A file is known by its source and name, its content by its size and SHA-256 (computed while the
  file is streamed once; nothing else of it is read). A file whose current batch has the same size
  and hash is `unchanged`: not read, its rows stay.
- A new name is `loaded` (appended); a known name with other content is `replaced`: the rows it
  brought earlier (raw and rejected) go, its new ones come, in the source's one transaction.
- `reloaded`: read again though unchanged, by a full refresh, or because a primary-key conflict
  reaches rows of an unchanged file (each loader's _settle_conflicts): every present file is
  then read again, so the outcome is what a full reload gives.
- A file that disappears from the landing directory keeps its rows (nothing is deleted silently):
  each run logs a warning, and its current batch records the first run that missed it
  (`missing_since_run_id`; cleared if it comes back unchanged). Its rows are no longer re-decided:
  a conflict with them rejects only rows of files still there. A full refresh rebuilds the source
  from the files that are there, so their rows go then.
- The source is loaded whole (every file read, rows of vanished files dropped) on a full refresh,
  and when there is nothing to build on: no raw table, no current batch (also what a warehouse
  whose batches predate incremental loads has: their added columns are null), or a raw table
  without a contract column (the contract changed).

audit.load_batches holds one row per file per run that read it (history). `is_current` marks the
one batch per (source, file_name) whose rows raw.<source> and audit.rejected_rows hold now; a run
that reads nothing writes no row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from include.contracts import Source
from include.loading.rules import CONFLICT_REASON, Dialect, FileResult

log = logging.getLogger(__name__)

LOADED, REPLACED, RELOADED, UNCHANGED = "loaded", "replaced", "reloaded", "unchanged"

# Columns added to audit.load_batches (contract: include/contracts/outputs.yml), by contract type.
BATCH_COLUMNS = (
    ("file_size", "integer"),
    ("content_sha256", "string"),
    ("load_action", "string"),
    ("is_current", "boolean"),
    ("missing_since_run_id", "string"),
)
BATCH_INSERT = ("insert into audit.load_batches (run_id, source, file_name, rows_read, rows_loaded, rows_rejected, "
                "loaded_at, file_size, content_sha256, load_action, is_current) values ({})")

_CHUNK = 1024 * 1024


class Reread(Exception):
    """Settling a primary-key conflict would change rows of files this run did not read: the load
    starts over reading every present file."""

    def __init__(self, files: Sequence[str]) -> None:
        super().__init__(", ".join(files))
        self.files = list(files)


@dataclass(frozen=True)
class LandingFile:
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def landing_paths(folder: Path) -> list[Path]:
    """The data files of a source folder, by name. Hidden files are writers' work in progress (e.g. a
    generator's .part-*.tmp); everything else is accounted for, loaded or quarantined."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def fingerprint(path: Path) -> LandingFile:
    """Size and SHA-256 of a file, streamed in chunks (a file of any size, in constant memory)."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return LandingFile(path, size, digest.hexdigest())


@dataclass(frozen=True)
class CurrentBatch:
    """A file's current batch: what its rows in the warehouse were read from."""

    file_name: str
    file_size: int | None
    content_sha256: str | None
    missing_since_run_id: str | None = None


@dataclass
class Plan:
    """What a load does with each file: an action per present file, the vanished ones, and whether
    rows of files it does not read are dropped (`full`)."""

    files: list[LandingFile]
    actions: dict[str, str]
    vanished: list[str] = field(default_factory=list)
    full: bool = False

    @property
    def read(self) -> list[LandingFile]:
        return [f for f in self.files if self.actions[f.name] != UNCHANGED]

    @property
    def unchanged(self) -> list[str]:
        return [f.name for f in self.files if self.actions[f.name] == UNCHANGED]


def plan_load(files: Sequence[LandingFile], current: Mapping[str, CurrentBatch], *, full: bool,
              reread: bool = False) -> Plan:
    """Each file's action against its current batch; `reread` (or `full`) reads unchanged files too."""
    actions = {}
    for f in files:
        batch = current.get(f.name)
        if batch is None:
            actions[f.name] = LOADED
        elif (batch.file_size, batch.content_sha256) != (f.size, f.sha256):
            actions[f.name] = REPLACED
        else:
            actions[f.name] = RELOADED if full or reread else UNCHANGED
    names = {f.name for f in files}
    return Plan(list(files), actions, sorted(n for n in current if n not in names), full)


def full_reason(source: Source, *, full_refresh: bool, raw_columns: set[str] | None,
                current: Mapping[str, CurrentBatch]) -> str | None:
    """Why the source is loaded whole this run, or None when the run can build on what is loaded.
    raw_columns: the raw table's column names (lower case), None when it does not exist."""
    if full_refresh:
        return "full_refresh"
    if raw_columns is None:
        return "no raw table yet"
    if not current:
        return "no current batch"
    missing = [c for c in source.column_names if c.lower() not in raw_columns]
    if missing:
        return f"raw.{source.name} lacks contract column(s) {', '.join(missing)}"
    return None


def log_plan(source: Source, plan: Plan, reason: str | None) -> None:
    counts = {a: sum(1 for v in plan.actions.values() if v == a) for a in (LOADED, REPLACED, RELOADED, UNCHANGED)}
    log.info("source %s: %s; %s", source.name, f"loaded whole ({reason})" if reason else "incremental",
             ", ".join(f"{n} {a}" for a, n in counts.items()))
    for name in plan.vanished:
        if plan.full:
            log.warning("source %s: %s is gone from the landing directory; the full load drops its rows",
                        source.name, name)
        else:
            log.warning("source %s: %s is gone from the landing directory; its rows stay (a full_refresh "
                        "drops them)", source.name, name)


def batch_row(run_id: str, now: object, r: FileResult) -> tuple:
    """A file's audit.load_batches row (BATCH_INSERT's columns) as the run's current batch."""
    return (run_id, r.source, r.file_name, r.rows_read, r.rows_loaded, r.rows_rejected, now, r.file_size,
            r.content_sha256, r.load_action, True)


# --- SQL both loaders run (named parameters: s = the source, run = the run id) ------------------------


def batch_columns_ddl(d: Dialect) -> tuple[str, ...]:
    """The columns added to audit.load_batches after it was first created: a warehouse made before
    them gets them here, a new one right after rules.audit_ddl creates the table."""
    return tuple(f"alter table audit.load_batches add column if not exists {name} {d.types[type_]}"
                 for name, type_ in BATCH_COLUMNS)


def current_batches_sql(d: Dialect) -> str:
    return ("select file_name, file_size, content_sha256, missing_since_run_id from audit.load_batches "
            f"where source = {d.param('s')} and is_current")


LANDING_FILES_DDL = ("create or replace temporary table _landing_files "
                     "(file_name varchar, file_size bigint, content_sha256 varchar, load_action varchar)")
READ_FILES = "(select file_name from _landing_files where load_action <> 'unchanged')"
UNCHANGED_FILES = "(select file_name from _landing_files where load_action = 'unchanged')"


def landing_rows(plan: Plan) -> list[tuple]:
    return [(f.name, f.size, f.sha256, plan.actions[f.name]) for f in plan.files]


def touched_keys_sql(d: Dialect, source: Source, table: str, where: str = "") -> str:
    """The primary keys (as staging compares them) of a table's rows: the keys a run touches."""
    return f"select distinct {d.key(d.q(source.primary_key))} as k from {table} {where}"


def candidates_sql(d: Dialect, source: Source, tables: Sequence[str]) -> str:
    """The rows whose primary key the run touches, from each table: what its conflicts are settled on."""
    columns = ", ".join([*(d.q(c) for c in source.column_names), "_file_name", "_row_number"])
    pk = d.key(d.q(source.primary_key))
    return " union all ".join(f"select {columns} from {t} where {pk} in (select k from _touched)" for t in tables)


def unchanged_in_conflict_sql() -> str:
    """Unchanged (unread) files holding a row a conflict of this run would reject."""
    return f"select distinct file_name from _conflicts where file_name in {UNCHANGED_FILES} order by 1"


def unchanged_losers_sql(d: Dialect, source: Source) -> str:
    """Unchanged (unread) files holding a conflict-rejected row of a key the run touches: that
    row's verdict (or the winner its reason names) may change, so its file must be read again."""
    # Only a conflict's raw record is the row as JSON; CASE keeps the others (parser lines) unparsed.
    # left() rather than LIKE: a '%' would need escaping in the Snowflake connector's parameter style.
    is_conflict = f"left(reason, {len(CONFLICT_REASON)}) = {d.literal(CONFLICT_REASON)}"
    pk = f"case when {is_conflict} then {d.json_text('raw_record', source.primary_key)} end"
    return f"""
        select distinct file_name from (
            select file_name, {pk} as _pk from audit.rejected_rows
            where source = {d.param('s')} and file_name in {UNCHANGED_FILES}
        ) as losers
        where _pk is not null and {d.key('_pk')} in (select k from _touched)
        order by 1
    """


# Conflicts found on vanished files' rows are left as they are: those rows are no longer re-decided.
KEEP_READ_CONFLICTS = f"delete from _conflicts where file_name not in {READ_FILES}"


def audit_statements(d: Dialect, full: bool) -> list[str]:
    """Before the run's rejected rows and batches go in: the earlier ones of the files it read (all of
    the source's on a full load) are retired, their rejected rows deleted."""
    s = d.param("s")
    files = "" if full else f" and file_name in {READ_FILES}"
    return [
        f"delete from audit.rejected_rows where source = {s}{files}",
        f"update audit.load_batches set is_current = false where source = {s} and coalesce(is_current, true){files}",
    ]


def presence_statements(d: Dialect) -> list[str]:
    """A current batch whose file is gone records the first run that missed it; one that is back
    forgets it."""
    s, run = d.param("s"), d.param("run")
    return [
        f"""update audit.load_batches set missing_since_run_id = {run}
            where source = {s} and is_current and missing_since_run_id is null
              and file_name not in (select file_name from _landing_files)""",
        f"""update audit.load_batches set missing_since_run_id = null
            where source = {s} and is_current and missing_since_run_id is not null
              and file_name in (select file_name from _landing_files)""",
    ]
