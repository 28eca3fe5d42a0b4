"""Load a source's landing files into raw.<source> on Snowflake, quarantining what it cannot take.

The same contract as include/loading/duckdb_loader.py (DuckDB), with the same rules (include/loading/rules.py, in
Snowflake's SQL): every file lands as text, is checked against the contract in SQL and split into
typed rows (raw.<source>) and rejected rows with a reason (audit.rejected_rows); audit.load_batches
gets rows_read = rows_loaded + rows_rejected per file; the last file (by name), last row wins for a
primary key; a source is replaced in one transaction.

Landing, per file, through the Airflow Snowflake provider's hook:
  1. PUT the file to a temporary internal stage (the session's own; gone when it ends).
  2. COPY INTO a temporary text table shaped like the file's header, selecting
     METADATA$FILE_ROW_NUMBER so "last row wins" and the audit can name rows; ON_ERROR = CONTINUE
     skips rows the parser rejects instead of failing the file.
  3. Recover the rejected rows with a plain COPY ... VALIDATION_MODE = RETURN_ALL_ERRORS against a
     table of the header's columns. VALIDATE(table, job_id => ...) would be the usual way, but
     Snowflake refuses VALIDATE for a COPY that selects (transforms), and step 2 must select to get
     row numbers; the validation COPY also applies the column-count check a selecting COPY skips.
Steps 1-3 are `StageLander`; everything after works on the landed tables in plain SQL, so the tests
run it on fakesnow with a lander that INSERTs (fakesnow has no stages, PUT or COPY).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from include.contracts import Source
from include.loading.rules import (
    SNOWFLAKE,
    FileResult,
    LoadError,
    audit_ddl,
    check_header,
    conflicts_select,
    file_head,
    reason,
    unsupported,
)

log = logging.getLogger(__name__)

SNOWFLAKE_TYPES = SNOWFLAKE.types
AUDIT_DDL = audit_ddl(SNOWFLAKE)

# Strict RFC 4180 CSV: a record with too few or too many fields is an error (ERROR_ON_COLUMN_COUNT_MISMATCH),
# bytes that are not UTF-8 are an error rather than silently replaced, '\N' is data, not null.
CSV_FORMAT = (
    "type = csv field_delimiter = ',' skip_header = 1 field_optionally_enclosed_by = '\"' "
    "escape_unenclosed_field = none encoding = 'UTF8' replace_invalid_characters = false "
    "error_on_column_count_mismatch = true skip_byte_order_mark = true empty_field_as_null = true null_if = ()"
)
PARQUET_FORMAT = "type = parquet binary_as_text = true"

q = SNOWFLAKE.q
literal = SNOWFLAKE.literal
joined_reasons = SNOWFLAKE.joined_reasons


def read_header(path: Path) -> list[str]:
    """Column names of a data file, read locally (PUT uploads bytes; COPY needs the names first)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        return next(csv.reader(handle), [])


def unreadable(path: Path) -> str | None:
    """Why a file cannot be loaded as data at all, or None (the DuckDB loader asks DuckDB instead)."""
    why = unsupported(path)
    if why is None and path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            pq.read_metadata(path)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            return f"not a readable Parquet file: {str(exc).splitlines()[0]}"
    return why


# --- landing: file -> temporary text table -------------------------------------------------------


def land_table_ddl(table: str, header: Sequence[str], row_number: bool = True) -> str:
    columns = [f"{q(h)} varchar" for h in header]
    if row_number:
        columns.append("_row_number number(38,0)")
    return f"create or replace temporary table {table} ({', '.join(columns)})"


def put_sql(path: Path, stage: str) -> str:
    # PUT takes a quoted file URI; single quotes in the path are escaped like any literal.
    return f"put {literal('file://' + str(path.resolve()))} @{stage} auto_compress = true overwrite = true"


def copy_sql(table: str, header: Sequence[str], stage: str, staged_name: str, parquet: bool) -> str:
    """The load: every field as text plus the record's number in the file; bad records are skipped."""
    if parquet:
        fields = ['$1:"' + h.replace('"', '""') + '"::varchar' for h in header]
        file_format = PARQUET_FORMAT
    else:
        fields = [f"${i}" for i in range(1, len(header) + 1)]
        file_format = CSV_FORMAT
    columns = ", ".join([*(q(h) for h in header), "_row_number"])
    select = ", ".join([*fields, "metadata$file_row_number"])
    return (
        f"copy into {table} ({columns}) from (select {select} from @{stage}) "
        f"files = ({literal(staged_name)}) file_format = ({file_format}) on_error = continue"
    )


def validation_sql(check_table: str, stage: str, staged_name: str) -> str:
    """Every record the parser rejects, with its number and text (no rows are written)."""
    return (
        f"copy into {check_table} from @{stage} files = ({literal(staged_name)}) "
        f"file_format = ({CSV_FORMAT}) validation_mode = return_all_errors"
    )


@dataclass(frozen=True)
class Rejected:
    row_number: int
    reason: str
    raw_record: str


def rejected_from_validation(rows: Iterable[dict[str, Any]]) -> list[Rejected]:
    """One rejected record per row number from VALIDATE / VALIDATION_MODE output (one record may
    report several errors: the first, by column position, names it, as the DuckDB loader does)."""
    first: dict[int, dict[str, Any]] = {}
    for row in rows:
        row = {k.upper(): v for k, v in row.items()}
        number = int(row["ROW_NUMBER"])
        if number not in first or (row.get("CHARACTER") or 0) < (first[number].get("CHARACTER") or 0):
            first[number] = row
    return [
        Rejected(n, f"{r.get('CATEGORY') or 'parse'}: {r['ERROR']}", r.get("REJECTED_RECORD") or "")
        for n, r in sorted(first.items())
    ]


class Lander(Protocol):
    def land(self, cur: Any, path: Path, header: list[str], table: str, rejects: str) -> None:
        """Fill `table` (header columns as text + _row_number) with the file's parsable records and
        `rejects` (file_name, row_number, reason, raw_record) with the rest."""


class StageLander:
    """PUT + COPY INTO + validation through a temporary stage (production)."""

    stage = "c360_landing"

    def __init__(self) -> None:
        self._stage_ready = False

    def land(self, cur: Any, path: Path, header: list[str], table: str, rejects: str) -> None:
        if not self._stage_ready:
            cur.execute(f"create temporary stage if not exists {self.stage}")
            self._stage_ready = True
        cur.execute(put_sql(path, self.stage))
        # PUT answers source, target, ...: target is the staged name (with .gz when it compressed).
        staged_name = cur.fetchone()[1]
        parquet = path.suffix.lower() == ".parquet"
        cur.execute(land_table_ddl(table, header))
        cur.execute(copy_sql(table, header, self.stage, staged_name, parquet))
        if parquet:  # Parquet has no record-level parse errors; values are cast as text.
            return
        check_table = f"{table}_check"
        cur.execute(land_table_ddl(check_table, header, row_number=False))
        cur.execute(validation_sql(check_table, self.stage, staged_name))
        names = [d[0] for d in cur.description]
        rejected = rejected_from_validation(dict(zip(names, row, strict=True)) for row in cur.fetchall())
        record_rejects(cur, table, rejects, path.name, rejected)


def record_rejects(cur: Any, table: str, rejects: str, file_name: str, rejected: list[Rejected]) -> None:
    """Keep structural rejects, and take them out of the landed rows (a selecting COPY may have
    loaded a record with the wrong number of fields)."""
    if not rejected:
        return
    cur.executemany(
        f"insert into {rejects} (file_name, row_number, reason, raw_record) values (%s, %s, %s, %s)",
        [(file_name, r.row_number, r.reason, r.raw_record) for r in rejected],
    )
    cur.execute(
        f"delete from {table} where _row_number in (select row_number from {rejects} where file_name = %s)",
        (file_name,),
    )


# --- checking and publishing: plain SQL on the landed tables -------------------------------------


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


def load_source_snowflake(
    source: Source, source_dir: Path, run_id: str, hook: Any = None, lander: Lander | None = None
) -> list[FileResult]:
    """Reload raw.<source> from every data file under source_dir/<source>; returns per-file counts."""
    if hook is None:
        from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

        from include import settings

        # A timestamp without an offset is UTC, as on DuckDB.
        hook = SnowflakeHook(snowflake_conn_id=settings.snowflake_conn_id(), session_parameters={"TIMEZONE": "UTC"})
    with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cur:
        return load_with_cursor(cur, source, source_dir, run_id, lander or StageLander())


def load_with_cursor(cur: Any, source: Source, source_dir: Path, run_id: str, lander: Lander) -> list[FileResult]:
    folder = Path(source_dir) / source.name
    if not folder.is_dir():
        raise LoadError(f"source {source.name!r}: landing directory {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    now = datetime.now(UTC).replace(tzinfo=None)
    stamp = {"run_id": run_id, "now": now.isoformat(sep=" ")}
    raw, staged = f"raw.{source.name}", f"_staged_{source.name}"

    for statement in AUDIT_DDL:
        cur.execute(statement)
    cur.execute(raw_table_ddl(source, raw))
    cur.execute(raw_table_ddl(source, staged, replace=True))
    cur.execute(
        "create or replace temporary table _rejected "
        "(file_name varchar, row_number number(38,0), reason varchar, raw_record varchar)"
    )
    extras: list[str] = []
    for index, path in enumerate(files):
        why = unreadable(path)
        if why:
            _quarantine_file(cur, path, why)
            continue
        if path.stat().st_size == 0:
            continue
        header = read_header(path)
        check_header(source, path.name, header)
        land = f"_land_{index}"
        lander.land(cur, path, header, land, "_rejected")
        for extra in header:
            if extra not in source.column_names and extra not in extras:
                extras.append(extra)
                for table in (staged, raw):
                    cur.execute(f"alter table {table} add column if not exists {q(extra)} varchar")
        cur.execute(f"create or replace temporary table _checked as {checked_select(source, header, land)}",
                    {"file_name": path.name, **stamp})
        names = ", ".join([*(q(c) for c in source.column_names), *(q(h) for h in header if h in extras),
                           "_file_name", "_row_number", "_run_id", "_loaded_at"])
        cur.execute(f"insert into {staged} ({names}) select {names} from _checked where _reason is null")
        cur.execute("insert into _rejected (file_name, row_number, reason, raw_record) "
                    "select _file_name, _row_number, _reason, _raw_record from _checked where _reason is not null")

    cur.execute(conflicts_sql(source, staged))
    cur.execute(f"delete from {staged} using _conflicts where {staged}._file_name = _conflicts.file_name "
                f"and {staged}._row_number = _conflicts.row_number")
    cur.execute("insert into _rejected (file_name, row_number, reason, raw_record) "
                "select file_name, row_number, reason, raw_record from _conflicts")
    results = _counts(cur, source, staged, [p.name for p in files])
    _publish(cur, source, raw, staged, extras, results, stamp)
    for r in results:
        log.info("%s/%s: read %d, loaded %d, rejected %d", r.source, r.file_name, r.rows_read, r.rows_loaded,
                 r.rows_rejected)
    if not files:
        log.warning("source %s: no files in %s; raw.%s is empty", source.name, folder, source.name)
    return results


def _quarantine_file(cur: Any, path: Path, why: str) -> None:
    """A file that is not data at all counts as one rejected record (row 0) holding its first bytes."""
    cur.execute("insert into _rejected (file_name, row_number, reason, raw_record) values (%s, 0, %s, %s)",
                (path.name, why, file_head(path)))
    log.warning("%s: %s", path, why)


def _counts(cur: Any, source: Source, staged: str, names: list[str]) -> list[FileResult]:
    """Per file: loaded rows, rejected rows, and read = their sum over distinct record numbers (a
    record is either loaded or rejected, exactly once)."""
    cur.execute(f"select _file_name, count(*) from {staged} group by _file_name")
    loaded = dict(cur.fetchall())
    cur.execute("select file_name, count(*) from _rejected group by file_name")
    rejected = dict(cur.fetchall())
    return [
        FileResult(source.name, name, int(loaded.get(name, 0)) + int(rejected.get(name, 0)),
                   int(loaded.get(name, 0)), int(rejected.get(name, 0)))
        for name in names
    ]


def _publish(cur: Any, source: Source, raw: str, staged: str, extras: list[str], results: list[FileResult],
             stamp: dict) -> None:
    """Replace the source's raw rows and audit rows in one transaction (DDL stays outside: on
    Snowflake it would commit the transaction)."""
    names = ", ".join([*(q(c) for c in source.column_names), *(q(e) for e in extras),
                       "_file_name", "_row_number", "_run_id", "_loaded_at"])
    cur.execute("begin")
    try:
        cur.execute(f"delete from {raw}")
        cur.execute(f"insert into {raw} ({names}) select {names} from {staged}")
        cur.execute("delete from audit.load_batches where source = %s", (source.name,))
        cur.execute("delete from audit.rejected_rows where source = %s", (source.name,))
        cur.execute(
            "insert into audit.rejected_rows (run_id, source, file_name, row_number, reason, raw_record, rejected_at) "
            "select %(run_id)s, %(source)s, file_name, row_number, reason, raw_record, %(now)s::timestamp_ntz "
            "from _rejected",
            {**stamp, "source": source.name},
        )
        if results:
            cur.executemany(
                "insert into audit.load_batches (run_id, source, file_name, rows_read, rows_loaded, rows_rejected, "
                "loaded_at) values (%s, %s, %s, %s, %s, %s, %s)",
                [(stamp["run_id"], r.source, r.file_name, r.rows_read, r.rows_loaded, r.rows_rejected, stamp["now"])
                 for r in results],
            )
        cur.execute("commit")
    except BaseException:
        cur.execute("rollback")
        raise
