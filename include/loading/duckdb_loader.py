"""Load a source's landing files into raw.<source> on DuckDB, quarantining what it cannot take.

Each file is read by DuckDB's own CSV/Parquet reader as text and goes into raw.<source> in one
INSERT ... SELECT that casts every value to the contract type and checks it (include/loading/rules.py):
a row that breaks the contract lands with its reason and the record as read, and once the source's
files are in, those few rows move to audit.rejected_rows. Nothing is materialised between the file
and the raw table, so a file is held once, and DuckDB spills to its temp directory rather than grow.

Loads are incremental (include/loading/batches.py): a run reads only the files that are new or whose
content changed (size and SHA-256 against the file's current batch in audit.load_batches); a changed
file's earlier raw and rejected rows are replaced, an unchanged file is not read, a vanished file's
rows stay (a warning, and `missing_since_run_id` on its batch). A full refresh (the DAG param
`full_refresh`) reloads the source whole from the files that are there. Whatever a run does to a
source happens inside one transaction, so a re-run (or a run killed half-way) never leaves a doubled
or partial batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from include.contracts import Source
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
    DATA_SUFFIXES,
    DUCKDB,
    FileResult,
    LoadError,
    audit_ddl,
    check_header,
    conflicts_select,
    file_head,
    needs_blank,
    reason,
    unsupported,
)

__all__ = ["DATA_SUFFIXES", "FileResult", "LoadError", "load_all", "load_source"]

# The framing below (scans, header, unreadable files, parser rejects and record numbers) is also how
# the Snowflake loader reads a file before shipping it: both targets see the same records and give a
# structurally bad one the same reason.

log = logging.getLogger(__name__)

# Large enough for a 10 MB single field; DuckDB rejects longer records instead of failing the file.
# The read buffer is set to the same size: DuckDB's default (a multiple of max_line_size) put a
# 100 MB file in one buffer, read by one thread.
MAX_LINE_SIZE = 16 * 1024 * 1024
# What the load may hold in memory before DuckDB spills to its temp directory (next to the warehouse
# file): well under the DAG's RSS budget, and far above what one streaming insert needs.
MEMORY_LIMIT = "3GB"

q = DUCKDB.q

CSV_SCAN = f"""read_csv($path, all_varchar = true, header = true, delim = ',', quote = '"', escape = '"',
    store_rejects = true, rejects_table = '_reject_errors', rejects_scan = '_reject_scans',
    max_line_size = {MAX_LINE_SIZE}, buffer_size = {MAX_LINE_SIZE})"""
# Parquet numbers its rows itself (from 0), so its reads need no order and run fully parallel.
PARQUET_SCAN = """(select columns(* exclude (file_row_number))::varchar, file_row_number + 1 as _file_row
    from read_parquet($path, file_row_number = true))"""
# One row per record the CSV reader rejected (after a scan with CSV_SCAN): its number among the data
# records (DuckDB numbers the header as line 1), the reason and the line. One bad record may report
# several errors: the first by column names it.
PARSER_REJECTS = """
    select line - 1 as data_row,
           arg_min(error_type || ': ' || error_message, column_idx) as reason,
           any_value(csv_line) as raw_record
    from _reject_errors group by line
"""


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def scan_of(path: Path) -> str:
    """The table function reading a data file as text (the path is bound as $path)."""
    return PARQUET_SCAN if is_parquet(path) else CSV_SCAN


def file_header(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """The file's column names, as its scan reads them."""
    header = [row[0] for row in con.execute(f"describe select * from {scan_of(path)}", {"path": str(path)}).fetchall()]
    if is_parquet(path):
        header.remove("_file_row")
    return header


def numbered(kept: str) -> str:
    """A query numbering kept CSV records in the file: `kept` selects rows with their `ordinal`
    among the records the reader kept (from 1); the result adds `file_row`, that ordinal plus the
    records it rejected before (their data_row in table _rejects)."""
    return f"""
        with kept as ({kept}),
        rejected as (
            select data_row - row_number() over (order by data_row) as kept_before,
                   row_number() over (order by data_row) as rejects_before
            from _rejects
        )
        select kept.*, ordinal + coalesce(rejects_before, 0) as file_row
        from kept asof left join rejected on kept.ordinal > rejected.kept_before
    """


@contextmanager
def _settings(con: duckdb.DuckDBPyConnection, **values: object) -> Iterator[None]:
    """DuckDB settings for the load, restored afterwards: the connection is the caller's."""
    before = {name: con.execute("select current_setting($n)", {"n": name}).fetchone()[0] for name in values}
    for name, value in values.items():
        con.execute(f"set {name} = {value!r}")
    try:
        yield
    finally:
        for name, value in before.items():
            con.execute(f"set {name} = {value!r}")


def load_source(con: duckdb.DuckDBPyConnection, source: Source, source_dir: Path, run_id: str,
                full_refresh: bool = False) -> list[FileResult]:
    """Load raw.<source> from the data files under source_dir/<source> that are new or changed (every
    file when loaded whole: include/loading/batches.py); returns the counts of the files it read."""
    folder = Path(source_dir) / source.name
    if not folder.is_dir():
        raise LoadError(f"source {source.name!r}: landing directory {folder} does not exist")
    landing = [fingerprint(path) for path in landing_paths(folder)]

    table = f"raw.{q(source.name)}"
    stamp = {"run_id": run_id, "now": datetime.now(UTC).replace(tzinfo=None)}
    con.execute("set TimeZone = 'UTC'")
    for statement in (*audit_ddl(DUCKDB), *batch_columns_ddl(DUCKDB)):
        con.execute(statement)
    current = {row[0]: CurrentBatch(*row) for row in
               con.execute(current_batches_sql(DUCKDB), {"s": source.name}).fetchall()}
    reason = full_reason(source, full_refresh=full_refresh, raw_columns=_raw_columns(con, source), current=current)
    plan = plan_load(landing, current, full=reason is not None)
    log_plan(source, plan, reason)
    try:
        results = _load_in_transaction(con, source, plan, table, stamp)
    except Reread as exc:
        log.warning("source %s: a primary-key conflict reaches rows of unchanged file(s) %s; reading every file "
                    "again", source.name, ", ".join(exc.files))
        results = _load_in_transaction(con, source, plan_load(landing, current, full=False, reread=True), table, stamp)
    if not landing:
        log.warning("source %s: no files in %s; raw.%s holds %s", source.name, folder, source.name,
                    "nothing" if plan.full else "what earlier runs loaded")
    for r in results:
        log.info("%s/%s (%s): read %d, loaded %d, rejected %d", r.source, r.file_name, r.load_action, r.rows_read,
                 r.rows_loaded, r.rows_rejected)
    return results


def _raw_columns(con: duckdb.DuckDBPyConnection, source: Source) -> set[str] | None:
    names = {name.lower() for name, in con.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' and table_name = $t",
        {"t": source.name}).fetchall()}
    return names or None


def _load_in_transaction(con: duckdb.DuckDBPyConnection, source: Source, plan: Plan, table: str,
                         stamp: dict) -> list[FileResult]:
    # Probed before the transaction: a failed statement would abort it.
    unreadable_files = {f.path: unreadable(con, f.path) for f in plan.read}
    with _settings(con, memory_limit=MEMORY_LIMIT):
        con.execute("begin transaction")
        try:
            results = _load_files(con, source, plan, unreadable_files, table, stamp)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return results


def _bound(con: duckdb.DuckDBPyConnection, sql: str, **values: object) -> duckdb.DuckDBPyConnection:
    """Run shared SQL (batches.py) with the named values it uses: DuckDB refuses unused ones."""
    return con.execute(sql, {name: value for name, value in values.items() if f"${name}" in sql})


def _load_files(con: duckdb.DuckDBPyConnection, source: Source, plan: Plan, unreadable: dict[Path, str | None],
                table: str, stamp: dict) -> list[FileResult]:
    """The body of the source's transaction: the files read replace their rows in the raw table, their
    rejected rows and their current batches (on a full load: everything of the source)."""
    con.execute(LANDING_FILES_DDL)
    if plan.files:
        con.executemany("insert into _landing_files values (?, ?, ?, ?)", landing_rows(plan))
    # A run with nothing new leaves the raw table alone.
    results = _load_read_files(con, source, plan, unreadable, table, stamp) if plan.read or plan.full else []
    for statement in presence_statements(DUCKDB):
        _bound(con, statement, s=source.name, run=stamp["run_id"])
    return results


def _load_read_files(con: duckdb.DuckDBPyConnection, source: Source, plan: Plan, unreadable: dict[Path, str | None],
                     table: str, stamp: dict) -> list[FileResult]:
    # _reason and _raw_record carry a rejected row from its insert to audit.rejected_rows.
    if plan.full:
        columns = ", ".join(f"{q(c.name)} {c.duckdb_type}" for c in source.columns)
        con.execute(
            f"create or replace table {table} ({columns}, _file_name varchar, _row_number bigint, "
            "_run_id varchar, _loaded_at timestamp, _reason varchar, _raw_record varchar)"
        )
    else:
        # The keys the files' earlier rows held: a conflict they settled may be re-decided now.
        con.execute(f"create or replace temp table _touched as "
                    f"{touched_keys_sql(DUCKDB, source, table, f'where _file_name in {READ_FILES}')}")
        con.execute(f"delete from {table} where _file_name in {READ_FILES}")
        con.execute(f"alter table {table} add column _reason varchar")
        con.execute(f"alter table {table} add column _raw_record varchar")
    con.execute("create or replace temp table _rejected (file_name varchar, row_number bigint, "
                "reason varchar, raw_record varchar)")
    read_counts: dict[str, int] = {}
    for f in plan.read:
        why = unreadable[f.path]
        if why:
            read_counts[f.name] = _quarantine_file(con, f.path, why)
        else:
            read_counts[f.name] = _load_file(con, source, f.path, table, stamp)
    con.execute(f"insert into _rejected select _file_name, _row_number, _reason, _raw_record from {table} "
                "where _reason is not null")
    con.execute(f"delete from {table} where _reason is not null")
    con.execute(f"alter table {table} drop column _reason")
    con.execute(f"alter table {table} drop column _raw_record")

    _settle_conflicts(con, source, plan, table)

    for statement in audit_statements(DUCKDB, plan.full):
        _bound(con, statement, s=source.name)
    con.execute(
        """insert into audit.rejected_rows
           select $run, $s, file_name, row_number, reason, raw_record, $now from _rejected""",
        {"run": stamp["run_id"], "s": source.name, "now": stamp["now"]},
    )
    loaded = dict(con.execute(f"select _file_name, count(*) from {table} where _file_name in {READ_FILES} "
                              "group by all").fetchall())
    rejected = dict(con.execute("select file_name, count(*) from _rejected group by all").fetchall())
    results = [FileResult(source.name, f.name, read_counts[f.name], loaded.get(f.name, 0), rejected.get(f.name, 0),
                          plan.actions[f.name], f.size, f.sha256) for f in plan.read]
    if results:
        con.executemany(BATCH_INSERT.format(", ".join("?" * 11)),
                        [batch_row(stamp["run_id"], stamp["now"], r) for r in results])
    return results


def _settle_conflicts(con: duckdb.DuckDBPyConnection, source: Source, plan: Plan, table: str) -> None:
    """Primary-key conflicts (rules.conflicts_select) among the rows of the keys the run touches: the
    losers among the rows it read go to _rejected. Raises Reread when a loser (or an earlier loser
    whose verdict may change) is a row of an unchanged file."""
    if plan.full:
        con.execute(f"create or replace temp table _conflicts as {conflicts_select(DUCKDB, source, table)}")
    else:
        read_rows = f"where _file_name in {READ_FILES}"
        con.execute(f"insert into _touched {touched_keys_sql(DUCKDB, source, table, read_rows)}")
        con.execute(f"create or replace temp table _candidates as {candidates_sql(DUCKDB, source, [table])}")
        con.execute(f"create or replace temp table _conflicts as {conflicts_select(DUCKDB, source, '_candidates')}")
        reached = {name for name, in con.execute(unchanged_in_conflict_sql()).fetchall()}
        reached |= {name for name, in _bound(con, unchanged_losers_sql(DUCKDB, source), s=source.name).fetchall()}
        if reached:
            raise Reread(sorted(reached))
        con.execute(KEEP_READ_CONFLICTS)
    con.execute(f"delete from {table} where (_file_name, _row_number) in "
                "(select file_name, row_number from _conflicts)")
    con.execute("insert into _rejected select * from _conflicts")


def unreadable(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Why a file cannot be read as a data file at all, or None when it can."""
    why = unsupported(path)
    if why is None and path.suffix.lower() == ".parquet":
        try:
            con.execute("select count(*) from parquet_metadata($p)", {"p": str(path)})
        except duckdb.Error as exc:
            return f"not a readable Parquet file: {str(exc).splitlines()[0]}"
    return why


def _quarantine_file(con: duckdb.DuckDBPyConnection, path: Path, reason: str) -> int:
    """A file that is not data at all counts as one rejected record (row 0) holding its first bytes."""
    con.execute("insert into _rejected values ($f, 0, $reason, $raw)",
                {"f": path.name, "reason": reason, "raw": file_head(path)})
    log.warning("%s: %s", path, reason)
    return 1


def _insert_sql(source: Source, header: list[str], scan: str, table: str, row_number: str) -> str:
    """One INSERT of a file into the raw table: contract columns typed, extra columns as text, the
    reason a row breaks the contract and, for such a row, the record as read."""
    # Each cast and blank test is computed once, then read by the checks and the insert.
    present = [c for c in source.columns if c.name in header]
    typed = {c.name: q(f"__typed_{c.name}") for c in present if c.type != "string"}
    blank = {c.name: q(f"__blank_{c.name}") for c in present if needs_blank(c)}
    casts = "".join(f", {DUCKDB.typed(c, q(c.name))} as {typed[c.name]}" for c in present if c.name in typed)
    casts += "".join(f", {DUCKDB.blank(q(c.name))} as {blank[c.name]}" for c in present if c.name in blank)
    columns = ", ".join(f"{typed.get(h, q(h))} as {q(h)}" for h in header)
    return f"""
        insert into {table} by name
        with landed as (
            select * from {scan}
        ),
        typed as (
            select *{casts} from landed
        ),
        checked as (
            select *, {reason(DUCKDB, source, header, typed, blank)} as _reason from typed
        ),
        final as (
            select {columns}, _reason,
                case when _reason is not null then {DUCKDB.record_json(header)} end as _raw_record,
                {row_number} as _row_number,
                $file_name as _file_name, $run_id as _run_id, $now as _loaded_at
            from checked
        )
        select * from final
    """


def _load_file(con: duckdb.DuckDBPyConnection, source: Source, path: Path, table: str, stamp: dict) -> int:
    """Insert one file's rows into the raw table (rejected ones with their reason) and its unparsable
    records into _rejected; returns the number of records in the file."""
    if path.stat().st_size == 0:
        return 0
    parquet = is_parquet(path)
    scan = scan_of(path)
    params = {"path": str(path)}
    try:
        header = file_header(con, path)
        check_header(source, path.name, header)
        for extra in header:
            if extra not in source.column_names:
                con.execute(f"alter table {table} add column if not exists {q(extra)} varchar")
        insert = _insert_sql(source, header, scan, table, "_file_row" if parquet else "null")
        params.update(file_name=path.name, **stamp)
        if parquet:
            with _settings(con, preserve_insertion_order=False):
                return con.execute(insert, params).fetchone()[0]
        con.execute("drop table if exists _reject_errors; drop table if exists _reject_scans")
        # The CSV reader has no row numbers: the insert keeps file order, so a row's place among the
        # rows just appended (its rowid) is its place among the parsed records.
        with _settings(con, preserve_insertion_order=True):
            inserted = con.execute(insert, params).fetchone()[0]
    except duckdb.Error as exc:
        raise LoadError(f"source {source.name!r}: file {path.name!r} cannot be read: {exc}") from exc
    return inserted + _number_csv_rows(con, table, path.name)


def _number_csv_rows(con: duckdb.DuckDBPyConnection, table: str, file_name: str) -> int:
    """Give the rows a CSV file just added their record numbers, counting the records the parser
    rejected (those go to _rejected); returns how many it rejected."""
    # DuckDB numbers records with the header as 1; one bad record may report several errors.
    con.execute(f"create or replace temp table _rejects as {PARSER_REJECTS}")
    con.execute("insert into _rejected select $f, data_row, reason, raw_record from _rejects", {"f": file_name})
    rejects = con.execute("select count(*) from _rejects").fetchone()[0]
    base = con.execute(f"select min(rowid) - 1 from {table} where _row_number is null").fetchone()[0]
    if not rejects:
        con.execute(f"update {table} set _row_number = rowid - $base where _row_number is null", {"base": base})
        return 0
    # A kept record's number in the file is its place among kept records plus the rejected records
    # before it; only a file with rejects pays for the join.
    con.execute(
        f"""
        update {table} set _row_number = numbered.file_row
        from ({numbered(f"select rowid as rid, rowid - $base as ordinal from {table} where _row_number is null")})
            as numbered
        where {table}.rowid = numbered.rid
        """,
        {"base": base},
    )
    return rejects


def load_all(con: duckdb.DuckDBPyConnection, source_dir: Path, run_id: str,
             full_refresh: bool = False) -> list[FileResult]:
    """Load every source of the contract (the DAG runs one task per source instead)."""
    from include.contracts import load_sources

    return [r for source in load_sources().values()
            for r in load_source(con, source, source_dir, run_id, full_refresh=full_refresh)]


if __name__ == "__main__":
    import argparse

    from include import settings

    parser = argparse.ArgumentParser(description="Load a landing directory into the DuckDB warehouse.")
    parser.add_argument("source_dir", type=Path)
    parser.add_argument("--duckdb", type=Path, default=None, help="warehouse file (default: C360_DUCKDB_PATH)")
    parser.add_argument("--full-refresh", action="store_true", help="reload every file, not only new or changed ones")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with duckdb.connect(str(args.duckdb or settings.duckdb_path())) as connection:
        load_all(connection, args.source_dir, run_id="manual", full_refresh=args.full_refresh)
