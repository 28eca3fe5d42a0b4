"""Load a source's landing files into raw.<source> on Snowflake, quarantining what it cannot take.

The same contract as include/loading/duckdb_loader.py (DuckDB), with the same rules (include/loading/rules.py, in
Snowflake's SQL): every file lands as text, is checked against the contract in SQL and split into
typed rows (raw.<source>) and rejected rows with a reason (audit.rejected_rows); the last file (by
name), last row wins for a primary key. Loads are incremental as on DuckDB (include/loading/batches.py:
only new or changed files are framed and shipped, a changed file's earlier rows are replaced, a
vanished file's rows stay, a full refresh reloads the source whole), with the same audit rows; what a
run changes in a source's raw and audit rows is published in one transaction.

Per file:
  1. Frame it locally with the DuckDB loader's own reader (duckdb_loader.scan_of: the same CSV parser,
     so the same records and the same reasons for structurally bad ones - MISSING COLUMNS, TOO MANY
     COLUMNS, INVALID ENCODING - and the same verdict on unreadable files). The parsed records go to a
     local Parquet file as text (columns c1..cN) with their number in the file (_row_number); the
     parser's rejects to a second one. rows_read = parsed + parser-rejected is counted HERE, from the
     file, independently of what the warehouse ends up holding.
  2. PUT both to a temporary internal stage and COPY them INTO temporary text tables, selecting
     $1:"cI"::varchar (Parquet of strings has nothing to reject) with ON_ERROR = ABORT_STATEMENT. The
     COPY's own result must say LOADED with rows_loaded == the records framed, or the load fails
     naming source and file.
  3. Check, type and quarantine in SQL (rules.py), drop conflicting duplicates, publish.
     rows_loaded and rows_rejected are counted from the tables, so a record lost anywhere after step 1
     shows as rows_read != rows_loaded + rows_rejected, which the gate's reconcile:<source> fails.

Only what both Snowflake and the fakesnow emulator (the tests) run is used: PUT ... AUTO_COMPRESS =
FALSE, COPY from @stage/<path> (no FILES =, no PATTERN), a transforming select of Parquet fields by
name (no METADATA$FILE_ROW_NUMBER, no MATCH_BY_COLUMN_NAME), ON_ERROR = ABORT_STATEMENT (no
CONTINUE, no VALIDATION_MODE). The tests run exactly this code against the emulator.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from include.contracts import Source
from include.loading import duckdb_loader
from include.loading.batches import (
    BATCH_INSERT,
    KEEP_READ_CONFLICTS,
    LANDING_FILES_DDL,
    READ_FILES,
    CurrentBatch,
    Plan,
    Reread,
    audit_statements,
    batch_columns_ddl,
    batch_row,
    candidates_sql,
    current_batches_sql,
    fingerprint,
    full_reason,
    landing_paths,
    landing_rows,
    log_plan,
    plan_load,
    presence_statements,
    touched_keys_sql,
    unchanged_in_conflict_sql,
    unchanged_losers_sql,
)
from include.loading.rules import (
    SNOWFLAKE,
    FileResult,
    LoadError,
    audit_ddl,
    check_header,
    conflicts_select,
    file_head,
    reason,
)

log = logging.getLogger(__name__)

SNOWFLAKE_TYPES = SNOWFLAKE.types
AUDIT_DDL = audit_ddl(SNOWFLAKE)
BATCH_DDL = batch_columns_ddl(SNOWFLAKE)
STAGE = "c360_landing"
# The parser rejects' Parquet fields (and _rejected's columns) with their types.
REJECT_FIELDS = (("file_name", "varchar"), ("row_number", "number"), ("reason", "varchar"), ("raw_record", "varchar"))

q = SNOWFLAKE.q
literal = SNOWFLAKE.literal
joined_reasons = SNOWFLAKE.joined_reasons


# --- 1. framing: the file, read locally as the DuckDB loader reads it -------------------------------


@dataclass
class Framed:
    """One landing file as read locally: what is shipped, and how many records it holds."""

    path: Path
    header: list[str] = field(default_factory=list)
    records: Path | None = None  # Parquet: c1..cN as text + _row_number
    parsed: int = 0
    rejects: Path | None = None  # Parquet: file_name, row_number, reason, raw_record
    rejected: int = 0
    unreadable: str | None = None  # why the file is not data at all (quarantined whole as row 0)

    @property
    def rows_read(self) -> int:
        return 1 if self.unreadable else self.parsed + self.rejected


def frame(con: duckdb.DuckDBPyConnection, path: Path, work: Path) -> Framed:
    """Read one landing file with the DuckDB loader's scan; write its records (and parser rejects)
    as Parquet files under `work`."""
    why = duckdb_loader.unreadable(con, path)
    if why:
        return Framed(path, unreadable=why)
    if path.stat().st_size == 0:
        return Framed(path)
    scan, params = duckdb_loader.scan_of(path), {"path": str(path)}
    stem = work / uuid.uuid4().hex
    records = stem.with_suffix(".records.parquet")
    try:
        header = duckdb_loader.file_header(con, path)
        cols = ", ".join(f"{duckdb_loader.q(h)} as c{i}" for i, h in enumerate(header, 1))
        if duckdb_loader.is_parquet(path):  # Parquet numbers its rows itself and has no parser rejects
            con.execute(f"copy (select {cols}, _file_row as _row_number from {scan}) to '{records}' "
                        "(format parquet)", params)
            return Framed(path, header, records, _parquet_rows(con, records))
        # The records in file order, then numbered counting the parser's rejects before each.
        kept = stem.with_suffix(".kept.parquet")
        con.execute("drop table if exists _reject_errors; drop table if exists _reject_scans")
        con.execute("set preserve_insertion_order = true")
        con.execute(f"copy (select {cols} from {scan}) to '{kept}' (format parquet)", params)
        con.execute(f"create or replace temp table _rejects as {duckdb_loader.PARSER_REJECTS}")
        rejected = con.execute("select count(*) from _rejects").fetchone()[0]
        ordinal = (f"select * exclude (file_row_number), file_row_number + 1 as ordinal "
                   f"from read_parquet('{kept}', file_row_number = true)")
        fields = ", ".join(f"c{i}" for i in range(1, len(header) + 1))
        con.execute(f"copy (select {fields}, file_row as _row_number from ({duckdb_loader.numbered(ordinal)})) "
                    f"to '{records}' (format parquet)")
        framed = Framed(path, header, records, _parquet_rows(con, records), rejected=rejected)
        if rejected:
            framed.rejects = stem.with_suffix(".rejects.parquet")
            con.execute(f"copy (select $f as file_name, data_row as row_number, reason, raw_record from _rejects "
                        f"order by data_row) to '{framed.rejects}' (format parquet)", {"f": path.name})
        return framed
    except duckdb.Error as exc:
        raise LoadError(f"file {path.name!r} cannot be read: {exc}") from exc


def _parquet_rows(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    return con.execute("select coalesce(sum(num_rows), 0) from parquet_file_metadata($p)",
                       {"p": str(path)}).fetchone()[0]


def frame_all(files: list[Path], work: Path) -> list[Framed]:
    """Every file framed before the source is written to: a file without a required column fails the
    source before anything of it is written."""
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"set memory_limit = '{duckdb_loader.MEMORY_LIMIT}'")
        con.execute(f"set temp_directory = '{work / 'spill'}'")
        return [frame(con, path, work) for path in files]


def _frame_source(source: Source, files: list[Path], work: Path) -> list[Framed]:
    try:
        framed = frame_all(files, work)
    except LoadError as exc:
        raise LoadError(f"source {source.name!r}: {exc}") from exc
    for f in framed:
        if f.header:
            check_header(source, f.path.name, f.header)
    return framed


# --- 2. landing: framed Parquet -> temporary text table ----------------------------------------------


def land_table_ddl(table: str, header: list[str]) -> str:
    columns = [f"{q(h)} varchar" for h in header] + ["_row_number number(38,0)"]
    return f"create or replace temporary table {table} ({', '.join(columns)})"


def put_sql(local: Path, stage_path: str) -> str:
    # PUT takes a quoted file URI; single quotes in the path are escaped like any literal. No compression:
    # Parquet compresses itself, and the staged name stays the file's.
    return f"put {literal('file://' + str(local.resolve()))} @{stage_path} auto_compress = false overwrite = true"


def copy_sql(table: str, columns: list[str], stage_path: str, fields: list[tuple[str, str]]) -> str:
    """COPY a staged Parquet file into `table`'s `columns`: its `fields` (name, type) by name."""
    select = ", ".join('$1:"' + name.replace('"', '""') + '"::' + type_ for name, type_ in fields)
    return (f"copy into {table} ({', '.join(columns)}) from (select {select} from @{stage_path}) "
            "file_format = (type = parquet) on_error = abort_statement")


def ship(cur: Any, source: Source, framed: Framed, local: Path, stage_dir: str, table: str, columns: list[str],
         fields: list[tuple[str, str]], expected: int) -> None:
    """PUT one local Parquet file and COPY it into `table`; fails unless COPY loaded every record."""
    cur.execute(put_sql(local, stage_dir))
    staged = cur.fetchone()[1]  # PUT answers source, target, ...: target is the staged name
    cur.execute(copy_sql(table, columns, f"{stage_dir}/{staged}", fields))
    names = [d[0].lower() for d in cur.description]
    copied = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    if not (len(copied) == 1 and copied[0].get("status") == "LOADED"
            and int(copied[0].get("rows_loaded") or 0) == expected):
        raise LoadError(f"source {source.name!r}: file {framed.path.name!r}: COPY into {table} did not load "
                        f"the {expected} records framed from the file: {copied}")


def land(cur: Any, source: Source, framed: Framed, table: str, stage_dir: str) -> None:
    """The framed file in Snowflake: its records in `table` (header columns as text + _row_number),
    its parser rejects appended to _rejected."""
    cur.execute(land_table_ddl(table, framed.header))
    if framed.parsed:
        fields = [(f"c{i}", "varchar") for i in range(1, len(framed.header) + 1)] + [("_row_number", "number")]
        ship(cur, source, framed, framed.records, stage_dir, table,
             [*(q(h) for h in framed.header), "_row_number"], fields, framed.parsed)
    if framed.rejected:
        ship(cur, source, framed, framed.rejects, stage_dir, "_rejected", [n for n, _ in REJECT_FIELDS],
             list(REJECT_FIELDS), framed.rejected)


# --- 3. checking and publishing: plain SQL on the landed tables -------------------------------------


def checked_select(source: Source, header: list[str], land: str) -> str:
    """One row per landed record: typed contract columns, extras as text, reason, raw record."""
    present = [c for c in source.columns if c.name in header]
    absent = [c for c in source.columns if c.name not in header]
    extras = [h for h in header if h not in source.column_names]
    cols = [f"{SNOWFLAKE.typed(c, q(c.name))} as {q(c.name)}" for c in present]
    cols += [f"{SNOWFLAKE.null_of(c)} as {q(c.name)}" for c in absent]
    cols += [q(h) for h in extras]
    return f"""
        select {", ".join(cols)},
               _reason,
               case when _reason is not null then {SNOWFLAKE.record_json(header)} end as _raw_record,
               _row_number,
               %(file_name)s as _file_name, %(run_id)s as _run_id, %(now)s::timestamp_ntz as _loaded_at
        from (select *, {reason(SNOWFLAKE, source, header)} as _reason from {land}) as landed
    """


def raw_table_ddl(source: Source, table: str, replace: bool = False) -> str:
    columns = ", ".join(f"{q(c.name)} {SNOWFLAKE_TYPES[c.type]}" for c in source.columns)
    verb = "create or replace temporary table" if replace else "create table if not exists"
    return (
        f"{verb} {table} ({columns}, _file_name varchar, _row_number number(38,0), "
        "_run_id varchar, _loaded_at timestamp_ntz)"
    )


def conflicts_sql(source: Source, table: str) -> str:
    return f"create or replace temporary table _conflicts as {conflicts_select(SNOWFLAKE, source, table)}"


def load_source_snowflake(source: Source, source_dir: Path, run_id: str,
                          full_refresh: bool = False) -> list[FileResult]:
    """Load raw.<source> from the data files under source_dir/<source> that are new or changed (every
    file when loaded whole: include/loading/batches.py); returns the counts of the files it read."""
    from include.warehouse.snowflake import snowflake_hook

    with closing(snowflake_hook().get_conn()) as conn, closing(conn.cursor()) as cur:
        return load_with_cursor(cur, source, source_dir, run_id, full_refresh=full_refresh)


def load_with_cursor(cur: Any, source: Source, source_dir: Path, run_id: str,
                     full_refresh: bool = False) -> list[FileResult]:
    folder = Path(source_dir) / source.name
    if not folder.is_dir():
        raise LoadError(f"source {source.name!r}: landing directory {folder} does not exist")
    landing = [fingerprint(path) for path in landing_paths(folder)]
    now = datetime.now(UTC).replace(tzinfo=None)
    stamp = {"run_id": run_id, "now": now.isoformat(sep=" ")}
    for statement in (*AUDIT_DDL, *BATCH_DDL):
        cur.execute(statement)
    cur.execute(current_batches_sql(SNOWFLAKE), {"s": source.name})
    current = {name: CurrentBatch(name, None if size is None else int(size), sha, missing)
               for name, size, sha, missing in cur.fetchall()}
    reason = full_reason(source, full_refresh=full_refresh, raw_columns=_raw_columns(cur, source), current=current)
    plan = plan_load(landing, current, full=reason is not None)
    log_plan(source, plan, reason)
    try:
        results = _load_plan(cur, source, plan, stamp)
    except Reread as exc:
        log.warning("source %s: a primary-key conflict reaches rows of unchanged file(s) %s; reading every file "
                    "again", source.name, ", ".join(exc.files))
        results = _load_plan(cur, source, plan_load(landing, current, full=False, reread=True), stamp)
    for r in results:
        if r.rows_read != r.rows_loaded + r.rows_rejected:
            log.error("%s/%s does not reconcile: read %d, loaded %d, rejected %d", r.source, r.file_name,
                      r.rows_read, r.rows_loaded, r.rows_rejected)
        else:
            log.info("%s/%s (%s): read %d, loaded %d, rejected %d", r.source, r.file_name, r.load_action,
                     r.rows_read, r.rows_loaded, r.rows_rejected)
    if not landing:
        log.warning("source %s: no files in %s; raw.%s holds %s", source.name, folder, source.name,
                    "nothing" if plan.full else "what earlier runs loaded")
    return results


def _raw_columns(cur: Any, source: Source) -> set[str] | None:
    """The raw table's column names (lower case), None when it does not exist (unquoted: upper case)."""
    cur.execute("select column_name from information_schema.columns where table_schema = 'RAW' "
                "and table_name = %s", (source.name.upper(),))
    return {name.lower() for name, in cur.fetchall()} or None


def _load_plan(cur: Any, source: Source, plan: Plan, stamp: dict) -> list[FileResult]:
    """Frame, land and check the files the plan reads, then publish them (plan.full: the source whole)."""
    raw, staged = f"raw.{source.name}", f"_staged_{source.name}"
    # The run's files, for the SQL that picks rows by file (DDL: before the publishing transaction).
    cur.execute(LANDING_FILES_DDL)
    if plan.files:
        cur.executemany("insert into _landing_files (file_name, file_size, content_sha256, load_action) "
                        "values (%s, %s, %s, %s)", landing_rows(plan))
    if not (plan.read or plan.full):  # nothing new: the raw table is left alone
        _publish(cur, source, plan, raw, staged, [], [], stamp)
        return []
    work = Path(tempfile.mkdtemp(prefix=f"c360_frame_{source.name}_"))
    try:
        framed = _frame_source(source, [f.path for f in plan.read], work)

        cur.execute(f"create temporary stage if not exists {STAGE}")
        # A folder of its own on the (session's) stage for this load.
        stage_dir = f"{STAGE}/{source.name}-{uuid.uuid4().hex[:12]}"
        cur.execute(raw_table_ddl(source, raw))
        if plan.full:  # a contract column added since the raw table was built (its type changes need a drop)
            for c in source.columns:
                cur.execute(f"alter table {raw} add column if not exists {q(c.name)} {SNOWFLAKE_TYPES[c.type]}")
        cur.execute(raw_table_ddl(source, staged, replace=True))
        cur.execute("create or replace temporary table _rejected "
                    "(file_name varchar, row_number number(38,0), reason varchar, raw_record varchar)")
        extras: list[str] = []
        for index, f in enumerate(framed):
            if f.unreadable:
                _quarantine_file(cur, f.path, f.unreadable)
                continue
            if not f.header:  # an empty file
                continue
            table = f"_land_{index}"
            land(cur, source, f, table, stage_dir)
            for extra in f.header:
                if extra not in source.column_names and extra not in extras:
                    extras.append(extra)
                    for t in (staged, raw):
                        cur.execute(f"alter table {t} add column if not exists {q(extra)} varchar")
            cur.execute(f"create or replace temporary table _checked as {checked_select(source, f.header, table)}",
                        {"file_name": f.path.name, **stamp})
            names = ", ".join([*(q(c) for c in source.column_names), *(q(h) for h in f.header if h in extras),
                               "_file_name", "_row_number", "_run_id", "_loaded_at"])
            cur.execute(f"insert into {staged} ({names}) select {names} from _checked where _reason is null")
            cur.execute("insert into _rejected (file_name, row_number, reason, raw_record) "
                        "select _file_name, _row_number, _reason, _raw_record from _checked where _reason is not null")
            cur.execute(f"drop table if exists {table}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    _settle_conflicts(cur, source, plan, raw, staged)
    results = _counts(cur, source, staged, framed, plan)
    _publish(cur, source, plan, raw, staged, extras, results, stamp)
    return results


def _settle_conflicts(cur: Any, source: Source, plan: Plan, raw: str, staged: str) -> None:
    """Primary-key conflicts (rules.conflicts_select) among the rows of the keys the run touches: the
    losers among the rows it read go from the staged table to _rejected. Raises Reread when a loser
    (or an earlier loser whose verdict may change) is a row of an unchanged file."""
    if plan.full:
        cur.execute(conflicts_sql(source, staged))
    else:
        # The keys of the files' new rows and of the rows they held so far, and the rows of those keys.
        cur.execute(f"create or replace temporary table _touched as {touched_keys_sql(SNOWFLAKE, source, staged)} "
                    f"union {touched_keys_sql(SNOWFLAKE, source, raw, f'where _file_name in {READ_FILES}')}")
        kept = f"(select * from {raw} where _file_name not in {READ_FILES}) as kept"
        cur.execute(f"create or replace temporary table _candidates as "
                    f"{candidates_sql(SNOWFLAKE, source, [staged, kept])}")
        cur.execute(conflicts_sql(source, "_candidates"))
        cur.execute(unchanged_in_conflict_sql())
        reached = {name for name, in cur.fetchall()}
        cur.execute(unchanged_losers_sql(SNOWFLAKE, source), {"s": source.name})
        reached |= {name for name, in cur.fetchall()}
        if reached:
            raise Reread(sorted(reached))
        cur.execute(KEEP_READ_CONFLICTS)
    cur.execute(f"delete from {staged} using _conflicts where {staged}._file_name = _conflicts.file_name "
                f"and {staged}._row_number = _conflicts.row_number")
    cur.execute("insert into _rejected (file_name, row_number, reason, raw_record) "
                "select file_name, row_number, reason, raw_record from _conflicts")


def _quarantine_file(cur: Any, path: Path, why: str) -> None:
    """A file that is not data at all counts as one rejected record (row 0) holding its first bytes."""
    cur.execute("insert into _rejected (file_name, row_number, reason, raw_record) values (%s, 0, %s, %s)",
                (path.name, why, file_head(path)))
    log.warning("%s: %s", path, why)


def _counts(cur: Any, source: Source, staged: str, framed: list[Framed], plan: Plan) -> list[FileResult]:
    """Per file: read as framed from the file; loaded and rejected as counted in the tables."""
    cur.execute(f"select _file_name, count(*) from {staged} group by _file_name")
    loaded = {name: int(n) for name, n in cur.fetchall()}
    cur.execute("select file_name, count(*) from _rejected group by file_name")
    rejected = {name: int(n) for name, n in cur.fetchall()}
    read = {f.name: f for f in plan.read}
    return [FileResult(source.name, f.path.name, f.rows_read, loaded.get(f.path.name, 0),
                       rejected.get(f.path.name, 0), plan.actions[f.path.name], read[f.path.name].size,
                       read[f.path.name].sha256) for f in framed]


def _publish(cur: Any, source: Source, plan: Plan, raw: str, staged: str, extras: list[str],
             results: list[FileResult], stamp: dict) -> None:
    """Replace the rows of the files read (on a full load: all of the source's) in the raw table and the
    audit tables, in one transaction (DDL stays outside: on Snowflake it would commit the transaction)."""
    names = ", ".join([*(q(c) for c in source.column_names), *(q(e) for e in extras),
                       "_file_name", "_row_number", "_run_id", "_loaded_at"])
    params = {**stamp, "s": source.name, "run": stamp["run_id"]}
    cur.execute("begin")
    try:
        if plan.read or plan.full:
            cur.execute(f"delete from {raw}" + ("" if plan.full else f" where _file_name in {READ_FILES}"))
            cur.execute(f"insert into {raw} ({names}) select {names} from {staged}")
            for statement in audit_statements(SNOWFLAKE, plan.full):
                cur.execute(statement, params)
            cur.execute(
                "insert into audit.rejected_rows (run_id, source, file_name, row_number, reason, raw_record, "
                "rejected_at) select %(run_id)s, %(s)s, file_name, row_number, reason, raw_record, "
                "%(now)s::timestamp_ntz from _rejected",
                params,
            )
        if results:
            cur.executemany(BATCH_INSERT.format(", ".join(["%s"] * 11)),
                            [batch_row(stamp["run_id"], stamp["now"], r) for r in results])
        for statement in presence_statements(SNOWFLAKE):
            cur.execute(statement, params)
        cur.execute("commit")
    except BaseException:
        cur.execute("rollback")
        raise
