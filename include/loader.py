"""Load a source's landing files into raw.<source> on DuckDB, quarantining what it cannot take.

Every file is read by DuckDB's own CSV/Parquet readers as text, checked against the contract in
SQL, and split: rows that pass go to raw.<source> (typed), rows that fail go to
audit.rejected_rows with the reason and the record as read. A source is reloaded whole inside one
transaction, so a re-run (or a run killed half-way) never leaves a doubled or partial batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from include.contracts import Column, Source

log = logging.getLogger(__name__)

DATA_SUFFIXES = (".csv", ".parquet")
# Large enough for a 10 MB single field; DuckDB rejects longer records instead of failing the file.
MAX_LINE_SIZE = 64 * 1024 * 1024

AUDIT_DDL = """
create schema if not exists raw;
create schema if not exists audit;
create table if not exists audit.load_batches (
    run_id varchar, source varchar, file_name varchar,
    rows_read bigint, rows_loaded bigint, rows_rejected bigint, loaded_at timestamp
);
create table if not exists audit.rejected_rows (
    run_id varchar, source varchar, file_name varchar, row_number bigint,
    reason varchar, raw_record varchar, rejected_at timestamp
);
"""


# Characters a blank or padded value may be made of: space, tab, newlines, vertical tab, form feed
# and no-break space (plain trim() removes spaces only).
WHITESPACE = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)"


def _trim(ref: str) -> str:
    return f"trim({ref}, {WHITESPACE})"


class LoadError(Exception):
    """A source cannot be loaded at all (missing directory, file without a required column)."""


@dataclass(frozen=True)
class FileResult:
    source: str
    file_name: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int


def q(identifier: str) -> str:
    """Quote an identifier that comes from a file header or the contract, never from a user."""
    return '"' + identifier.replace('"', '""') + '"'


def _read_to_text_table(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Read a file into temp table _in (all text, file order) and structural rejects into _rejects.

    Returns the number of records in the file (loaded-as-text plus structurally rejected).
    """
    con.execute("drop table if exists _in; drop table if exists _rejects")
    if path.suffix.lower() == ".parquet":
        con.execute("create temp table _in as select columns(*)::varchar from read_parquet($p)", {"p": str(path)})
        con.execute("create temp table _rejects (data_row bigint, reason varchar, raw_record varchar)")
    else:
        con.execute("drop table if exists _reject_errors; drop table if exists _reject_scans")
        con.execute(
            """
            create temp table _in as select * from read_csv(
                $p, all_varchar = true, header = true, delim = ',', quote = '"', escape = '"',
                store_rejects = true, rejects_table = '_reject_errors', rejects_scan = '_reject_scans',
                max_line_size = $max_line)
            """,
            {"p": str(path), "max_line": MAX_LINE_SIZE},
        )
        # DuckDB numbers records with the header as 1; one bad record may report several errors.
        con.execute(
            """
            create temp table _rejects as
            select line - 1 as data_row,
                   arg_min(error_type || ': ' || error_message, column_idx) as reason,
                   any_value(csv_line) as raw_record
            from _reject_errors group by line
            """
        )
    return con.execute("select (select count(*) from _in) + (select count(*) from _rejects)").fetchone()[0]


def _typed(col: Column, ref: str) -> str:
    """The value cast to the contract type, or null. The plain cast is tried first: trimming a whole
    column with a character set costs four times a cast, and padded values are rare."""
    if col.type == "string":
        return ref
    # The session time zone is UTC, so a timestamp without an offset is read as UTC.
    target = "timestamptz" if col.type == "timestamp" else col.duckdb_type
    cast = f"coalesce(try_cast({ref} as {target}), try_cast({_trim(ref)} as {target}))"
    return f"{cast}::timestamp" if col.type == "timestamp" else cast


def _blank(ref: str) -> str:
    # Only a value that starts with whitespace can be all whitespace: trim just those. Every ASCII
    # whitespace character sorts before '!', so one comparison finds them (and '').
    return f"({ref} is null or (({ref} < '!' or starts_with({ref}, chr(160))) and {_trim(ref)} = ''))"


def _typed_alias(col: Column) -> str:
    return q(f"__typed_{col.name}")


def _checks(col: Column, ref: str) -> list[str]:
    """SQL expressions that yield a reason when the value breaks the contract, else null; `ref` is the
    text as read, _typed_alias(col) the value already cast."""
    shown = f"left({ref}, 200)"
    typed = _typed_alias(col)
    checks = []
    if col.required:
        checks.append(f"case when {_blank(ref)} then 'missing required value in {col.name}' end")
    if col.type != "string":
        checks.append(
            f"case when {typed} is null and not {_blank(ref)} "
            f"then 'unparsable {col.type} in {col.name}: ' || {shown} end"
        )
    if col.accepted_values:
        allowed = ", ".join("'" + v.replace("'", "''") + "'" for v in col.accepted_values)
        checks.append(
            f"case when lower({ref}) not in ({allowed}) and not {_blank(ref)} "
            f"and lower({_trim(ref)}) not in ({allowed}) "
            f"then '{col.name} not in accepted values: ' || {shown} end"
        )
    if col.min_value is not None:
        checks.append(
            f"case when {typed} < {col.min_value} then '{col.name} below minimum {col.min_value}: ' || {shown} end"
        )
    return checks


def _check_header(source: Source, path: Path, header: list[str]) -> None:
    missing = [c for c in source.required_columns if c not in header]
    if missing:
        raise LoadError(
            f"source {source.name!r}: file {path.name!r} lacks required column(s) "
            f"{', '.join(missing)} (header: {', '.join(header)})"
        )


def _checked_select(source: Source, header: list[str], any_rejects: bool) -> str:
    """One row per record of _in: typed contract columns, extra columns as text, reason, row number."""
    present = [c for c in source.columns if c.name in header]
    absent = [c for c in source.columns if c.name not in header]
    extras = [h for h in header if h not in source.column_names]
    casts = [f"{_typed(c, q(c.name))} as {_typed_alias(c)}" for c in present if c.type != "string"]
    columns = [f"{_typed_alias(c) if c.type != 'string' else q(c.name)} as {q(c.name)}" for c in present]
    columns += [f"null::{c.duckdb_type} as {q(c.name)}" for c in absent]
    columns += [q(h) for h in extras]
    checks = [chk for c in present for chk in _checks(c, q(c.name))]
    reason = f"nullif(concat_ws('; ', {', '.join(checks)}), '')" if checks else "null::varchar"
    record = "to_json(struct_pack(" + ", ".join(f"{q(h)} := {q(h)}" for h in header) + "))::varchar"
    # Records DuckDB could not parse are not in _in; a kept record's number in the file is its
    # position among kept records plus the rejected records that precede it.
    if any_rejects:
        row_number, rejects_join = "_ordinal + coalesce(rejects_before, 0)", (
            "asof left join rejected on checked._ordinal > rejected.kept_before")
    else:
        row_number, rejects_join = "_ordinal", ""
    return f"""
        with rejected as (
            select data_row - row_number() over (order by data_row) as kept_before,
                   row_number() over (order by data_row) as rejects_before
            from _rejects
        ),
        typed as (
            select *, {", ".join([*casts, "rowid - (select min(rowid) from _in) + 1 as _ordinal"])} from _in
        ),
        checked as (
            select *, {reason} as _reason from typed
        )
        select {", ".join(columns)},
               _reason,
               case when _reason is not null then {record} end as _raw_record,
               {row_number} as _row_number,
               $file_name as _file_name, $run_id as _run_id, $now as _loaded_at
        from checked {rejects_join}
    """


def _quarantine_conflicting_duplicates(con: duckdb.DuckDBPyConnection, source: Source, table: str) -> None:
    """Keep one row per primary key: the last file (by name), last row wins.

    Exact duplicates (same contract values) stay for staging to collapse; a row that carries the same
    key with other values is quarantined, so nothing is lost and the winner is deterministic.
    """
    # Keys compare as staging will see them: surrounding whitespace does not make a new key.
    pk = _trim(q(source.primary_key))
    content = ", ".join(q(c) for c in source.column_names)
    con.execute(
        f"""
        create or replace temp table _conflicts as
        with keyed as (
            select *, hash({content}) as _h from {table}
            where {pk} in (select {pk} from {table} group by {pk} having count(*) > 1)
        ),
        ranked as (
            select *,
                first_value(_h) over w as _winner_h,
                first_value(_file_name) over w as _winner_file,
                first_value(_row_number) over w as _winner_row
            from keyed
            window w as (partition by {pk} order by _file_name desc, _row_number desc)
        )
        select _file_name, _row_number,
            'conflicting duplicate of primary key {source.primary_key}=' || left({pk}, 200)
                || ' (kept ' || _winner_file || ' row ' || _winner_row || ')' as reason,
            to_json(struct_pack({", ".join(f"{q(c)} := {q(c)}" for c in source.column_names)}))::varchar
                as raw_record
        from ranked where _h <> _winner_h
        """
    )
    con.execute(
        f"delete from {table} where (_file_name, _row_number) in (select _file_name, _row_number from _conflicts)"
    )


def load_source(con: duckdb.DuckDBPyConnection, source: Source, source_dir: Path, run_id: str) -> list[FileResult]:
    """Reload raw.<source> from every data file under source_dir/<source>; returns per-file counts."""
    folder = Path(source_dir) / source.name
    if not folder.is_dir():
        raise LoadError(f"source {source.name!r}: landing directory {folder} does not exist")
    # Hidden files are writers' work in progress (e.g. a generator's .part-*.tmp); everything else
    # is accounted for, loaded or quarantined.
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))

    table = f"raw.{q(source.name)}"
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("set TimeZone = 'UTC'")
    con.execute(AUDIT_DDL)
    # Probed before the transaction: a failed statement would abort it.
    unreadable = {path: _unreadable(con, path) for path in files}
    con.execute("begin transaction")
    try:
        columns = ", ".join(f"{q(c.name)} {c.duckdb_type}" for c in source.columns)
        con.execute(
            f"create or replace table {table} ({columns}, _file_name varchar, _row_number bigint, "
            "_run_id varchar, _loaded_at timestamp)"
        )
        con.execute("create or replace temp table _rejected (file_name varchar, row_number bigint, "
                    "reason varchar, raw_record varchar)")
        read_counts: dict[str, int] = {}
        for path in files:
            if unreadable[path]:
                read_counts[path.name] = _quarantine_file(con, path, unreadable[path])
            else:
                read_counts[path.name] = _load_file(con, source, path, table, {"run_id": run_id, "now": now})
        _quarantine_conflicting_duplicates(con, source, table)
        con.execute("insert into _rejected select * from _conflicts")

        con.execute("delete from audit.load_batches where source = $s", {"s": source.name})
        con.execute("delete from audit.rejected_rows where source = $s", {"s": source.name})
        con.execute(
            """insert into audit.rejected_rows
               select $run, $s, file_name, row_number, reason, raw_record, $now from _rejected""",
            {"run": run_id, "s": source.name, "now": now},
        )
        results = []
        for name, rows_read in read_counts.items():
            loaded, rejected = con.execute(
                f"""select (select count(*) from {table} where _file_name = $f),
                           (select count(*) from _rejected where file_name = $f)""",
                {"f": name},
            ).fetchone()
            results.append(FileResult(source.name, name, rows_read, loaded, rejected))
        if results:
            con.executemany(
                "insert into audit.load_batches values (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, r.source, r.file_name, r.rows_read, r.rows_loaded, r.rows_rejected, now) for r in results],
            )
        else:
            log.warning("source %s: no files in %s; raw.%s is empty", source.name, folder, source.name)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    for r in results:
        log.info("%s/%s: read %d, loaded %d, rejected %d", r.source, r.file_name, r.rows_read, r.rows_loaded,
                 r.rows_rejected)
    return results


def _unreadable(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Why a file cannot be read as a data file at all, or None when it can."""
    if path.suffix.lower() not in DATA_SUFFIXES:
        return f"unsupported file type {path.suffix or '(no extension)'}: only .csv and .parquet files are loaded"
    if path.suffix.lower() == ".parquet":
        try:
            con.execute("select count(*) from parquet_metadata($p)", {"p": str(path)})
        except duckdb.Error as exc:
            return f"not a readable Parquet file: {str(exc).splitlines()[0]}"
    return None


def _quarantine_file(con: duckdb.DuckDBPyConnection, path: Path, reason: str) -> int:
    """A file that is not data at all counts as one rejected record (row 0) holding its first bytes."""
    with path.open("rb") as handle:
        head = handle.read(1000).decode("utf-8", errors="replace")
    con.execute("insert into _rejected values ($f, 0, $reason, $raw)", {"f": path.name, "reason": reason, "raw": head})
    log.warning("%s: %s", path, reason)
    return 1


def _load_file(con: duckdb.DuckDBPyConnection, source: Source, path: Path, table: str, stamp: dict) -> int:
    """Append one file's good rows to the raw table and its bad ones to _rejected; returns rows read."""
    if path.stat().st_size == 0:
        return 0
    try:
        rows_read = _read_to_text_table(con, path)
    except duckdb.Error as exc:
        raise LoadError(f"source {source.name!r}: file {path.name!r} cannot be read: {exc}") from exc
    any_rejects = con.execute("select count(*) from _rejects").fetchone()[0] > 0
    header = [row[0] for row in con.execute("select column_name from (describe _in)").fetchall()]
    _check_header(source, path, header)
    con.execute(
        f"create or replace temp table _checked as {_checked_select(source, header, any_rejects)}",
        {"file_name": path.name, **stamp},
    )
    for extra in header:
        if extra not in source.column_names:
            con.execute(f"alter table {table} add column if not exists {q(extra)} varchar")
    con.execute(
        f"insert into {table} by name select * exclude (_reason, _raw_record) from _checked where _reason is null"
    )
    con.execute(
        """insert into _rejected
           select _file_name, _row_number, _reason, _raw_record from _checked where _reason is not null
           union all
           select $f, data_row, reason, raw_record from _rejects""",
        {"f": path.name},
    )
    return rows_read


def load_all(con: duckdb.DuckDBPyConnection, source_dir: Path, run_id: str) -> list[FileResult]:
    """Load every source of the contract (the DAG runs one task per source instead)."""
    from include.contracts import load_sources

    return [r for source in load_sources().values() for r in load_source(con, source, source_dir, run_id)]


if __name__ == "__main__":
    import argparse

    from include import settings

    parser = argparse.ArgumentParser(description="Load a landing directory into the DuckDB warehouse.")
    parser.add_argument("source_dir", type=Path)
    parser.add_argument("--duckdb", type=Path, default=None, help="warehouse file (default: C360_DUCKDB_PATH)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with duckdb.connect(str(args.duckdb or settings.duckdb_path())) as connection:
        load_all(connection, args.source_dir, run_id="manual")
