"""The landing contract's rules as SQL, written once for every warehouse the loader writes to.

Both loaders (duckdb_loader on DuckDB, snowflake_loader on Snowflake) land a file's fields as text and
ask this module what is wrong with each record: a missing required value, a value that does not
convert to the contract type, a value outside the accepted ones or below the floor. The SQL differs
between the two only where the databases do (quoting, casts, JSON, string functions): that is a
`Dialect`; the rules, their order and the wording of every reason exist here alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from include.contracts import DUCKDB_TYPES, Column, Source

DATA_SUFFIXES = (".csv", ".parquet")

# Characters a blank or padded value may be made of: space, tab, newlines, vertical tab, form feed
# and no-break space (plain trim() removes spaces only).
WHITESPACE = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)"
# Timestamps in UTC that DuckDB's plain timestamp cast reads exactly as the time-zone-aware one.
UTC_SHAPES = ("____-__-__T__:__:__Z", "____-__-__ __:__:__+00")
_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# How a row rejected as a conflicting duplicate's reason starts (the incremental load looks them up).
CONFLICT_REASON = "conflicting duplicate of primary key "


class LoadError(Exception):
    """A source cannot be loaded at all (missing directory, file without a required column)."""


@dataclass(frozen=True)
class FileResult:
    source: str
    file_name: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    # What the run did with the file (include/loading/batches.py: loaded, replaced or reloaded) and
    # the content it read: the file's audit.load_batches row.
    load_action: str = "loaded"
    file_size: int | None = None
    content_sha256: str | None = None


class Dialect:
    """SQL spellings shared by DuckDB and Snowflake; the subclasses override where they differ."""

    types: ClassVar[Mapping[str, str]] = DUCKDB_TYPES

    def q(self, identifier: str) -> str:
        """Quote an identifier that comes from a file header or the contract, never from a user."""
        return '"' + identifier.replace('"', '""') + '"'

    def literal(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def param(self, name: str) -> str:
        """A named bind parameter (the value is passed to execute in a dict)."""
        raise NotImplementedError

    def json_text(self, ref: str, key: str) -> str:
        """The text of a key of a JSON object held as text in `ref`."""
        raise NotImplementedError

    def trim(self, ref: str) -> str:
        return f"trim({ref}, {WHITESPACE})"

    def blank(self, ref: str) -> str:
        return f"(nullif({self.trim(ref)}, '') is null)"

    def key(self, ref: str) -> str:
        """A primary key as staging compares it: without surrounding whitespace."""
        return self.trim(ref)

    def typed(self, col: Column, ref: str) -> str:
        """The value as the contract's type, null when it does not convert."""
        raise NotImplementedError

    def joined_reasons(self, parts: Sequence[str]) -> str:
        """'; '-joined non-null reasons, null when none."""
        raise NotImplementedError

    def record_json(self, names: Iterable[str]) -> str:
        """The named columns of a row as a JSON object (text), nulls kept."""
        raise NotImplementedError

    def null_of(self, col: Column) -> str:
        return f"cast(null as {self.types[col.type]})"


class DuckDBDialect(Dialect):
    def param(self, name: str) -> str:
        return f"${name}"

    def json_text(self, ref: str, key: str) -> str:
        return f"json_extract_string({ref}, {self.literal('$.' + json.dumps(key))})"

    def blank(self, ref: str) -> str:
        # Only a value that starts with whitespace can be all whitespace: trim just those. Every ASCII
        # whitespace character sorts before '!', so one comparison rules out nearly every value. A
        # CASE, not AND/OR: the optimiser reorders those and would trim every value first. ltrim, not
        # trim: with the very trim() of typed() in the same query, DuckDB computed that shared trim once
        # for every row, ahead of both CASE and coalesce (45 % of the order_items CSV insert).
        return (f"(case when {ref} is null then true when {ref} >= '!' and not starts_with({ref}, chr(160)) "
                f"then false else ltrim({ref}, {WHITESPACE}) = '' end)")

    def key(self, ref: str) -> str:
        # Trimming with a character set costs ten times a comparison: only values that start or end
        # with whitespace (ASCII whitespace sorts before '!') are trimmed.
        return (f"(case when {ref} >= '!' and not starts_with({ref}, chr(160)) and right({ref}, 1) > ' ' "
                f"and not ends_with({ref}, chr(160)) then {ref} else {self.trim(ref)} end)")

    def typed(self, col: Column, ref: str) -> str:
        # The plain cast is tried first: trimming a whole column with a character set costs four times
        # a cast, and padded values are rare. The session time zone is UTC, so a timestamp without an
        # offset is read as UTC.
        if col.type == "string":
            return ref
        target = "timestamptz" if col.type == "timestamp" else self.types[col.type]
        cast = f"coalesce(try_cast({ref} as {target}), try_cast({self.trim(ref)} as {target}))"
        if col.type != "timestamp":
            return cast
        # UTC written out ('...Z', or '+00' as DuckDB writes Parquet timestamps as text) parses at a
        # third of the cost without ICU's time-zone machinery; the plain cast would ignore any other
        # offset, so only these exact shapes take it.
        utc = " or ".join(f"{ref} like '{shape}'" for shape in UTC_SHAPES)
        return f"(case when {utc} then try_cast({ref} as timestamp) else {cast}::timestamp end)"

    def joined_reasons(self, parts: Sequence[str]) -> str:
        return f"nullif(concat_ws('; ', {', '.join(parts)}), '')" if parts else "null::varchar"

    def record_json(self, names: Iterable[str]) -> str:
        return "to_json(struct_pack(" + ", ".join(f"{self.q(n)} := {self.q(n)}" for n in names) + "))::varchar"


class SnowflakeDialect(Dialect):
    types: ClassVar[Mapping[str, str]] = {
        "string": "varchar",
        "timestamp": "timestamp_ntz",
        "decimal(18,2)": "number(18,2)",
        "integer": "number(38,0)",
        "boolean": "boolean",
    }

    def param(self, name: str) -> str:
        return f"%({name})s"

    def json_text(self, ref: str, key: str) -> str:
        # TRY_PARSE_JSON: null, not an error, for text that is not JSON.
        return f"try_parse_json({ref}):{json.dumps(key)}::varchar"

    def q(self, identifier: str) -> str:
        """Simple names are upper-cased so they resolve like the unquoted names the dbt models use;
        anything else keeps its exact spelling."""
        return super().q(identifier.upper() if _SIMPLE_NAME.match(identifier) else identifier)

    def literal(self, value: str) -> str:
        # Backslash is an escape character inside Snowflake quotes.
        return super().literal(value.replace("\\", "\\\\"))

    def typed(self, col: Column, ref: str) -> str:
        # A timestamp without an offset is UTC (the hook sets the session TIMEZONE to UTC). TRY_CAST
        # rather than the TRY_TO_* functions: the same meaning on text input, and fakesnow translates it.
        if col.type == "string":
            return ref
        value = self.trim(ref)
        if col.type == "timestamp":
            return f"convert_timezone('UTC', try_cast({value} as timestamp_tz))::timestamp_ntz"
        return f"try_cast({value} as {self.types[col.type]})"

    def joined_reasons(self, parts: Sequence[str]) -> str:
        # Snowflake's concat_ws is null as soon as one part is, so each part carries its own separator
        # and the first one is cut off.
        if not parts:
            return "cast(null as varchar)"
        chain = " || ".join(f"coalesce('; ' || {p}, '')" for p in parts)
        return f"nullif(substr({chain}, 3), '')"

    def record_json(self, names: Iterable[str]) -> str:
        pairs = ", ".join(f"{self.literal(n)}, {self.q(n)}" for n in names)
        return f"to_json(object_construct_keep_null({pairs}))"


DUCKDB = DuckDBDialect()
SNOWFLAKE = SnowflakeDialect()


# --- the rules ---------------------------------------------------------------------------------------


def checks(d: Dialect, col: Column, ref: str, typed: str | None = None, blank: str | None = None) -> list[str]:
    """SQL expressions that yield a reason when the value breaks the contract, else null. `ref` is the
    text as landed; `typed` (the value as the contract's type) and `blank` (whether it is empty or
    whitespace) default to their expressions and may name columns already holding them."""
    shown = f"left({ref}, 200)"
    typed = typed or d.typed(col, ref)
    blank = blank or d.blank(ref)
    out = []
    if col.required:
        out.append(f"case when {blank} then {d.literal(f'missing required value in {col.name}')} end")
    if col.type != "string":
        out.append(f"case when {typed} is null and not {blank} "
                   f"then {d.literal(f'unparsable {col.type} in {col.name}: ')} || {shown} end")
    if col.accepted_values:
        allowed = ", ".join(d.literal(v) for v in col.accepted_values)
        # The untrimmed comparison first: it settles nearly every value without a trim.
        out.append(f"case when lower({ref}) not in ({allowed}) and not {blank} "
                   f"and lower({d.trim(ref)}) not in ({allowed}) "
                   f"then {d.literal(f'{col.name} not in accepted values: ')} || {shown} end")
    if col.min_value is not None:
        out.append(f"case when {typed} < {col.min_value} "
                   f"then {d.literal(f'{col.name} below minimum {col.min_value}: ')} || {shown} end")
    return out


def needs_blank(col: Column) -> bool:
    """Whether the checks of a column ask if its value is blank."""
    return col.required or col.type != "string" or bool(col.accepted_values)


def reason(d: Dialect, source: Source, header: Sequence[str], typed: Mapping[str, str] | None = None,
           blank: Mapping[str, str] | None = None) -> str:
    """Why a landed record breaks the contract ('; '-joined), null when it does not. `typed` and
    `blank` map column names to columns already holding those values (see checks)."""
    typed, blank = typed or {}, blank or {}
    parts = [chk for c in source.columns if c.name in header
             for chk in checks(d, c, d.q(c.name), typed.get(c.name), blank.get(c.name))]
    return d.joined_reasons(parts)


def check_header(source: Source, file_name: str, header: Sequence[str]) -> None:
    missing = [c for c in source.required_columns if c not in header]
    if missing:
        raise LoadError(
            f"source {source.name!r}: file {file_name!r} lacks required column(s) "
            f"{', '.join(missing)} (header: {', '.join(header)})"
        )


def unsupported(path: Path) -> str | None:
    """Why a file is not a data file by its name, or None."""
    if path.suffix.lower() not in DATA_SUFFIXES:
        return f"unsupported file type {path.suffix or '(no extension)'}: only .csv and .parquet files are loaded"
    return None


def file_head(path: Path) -> str:
    """The first bytes of a file quarantined whole: what its rejected record (row 0) holds."""
    with path.open("rb") as handle:
        return handle.read(1000).decode("utf-8", errors="replace")


def conflicts_select(d: Dialect, source: Source, table: str) -> str:
    """Rows carrying a primary key with other values than the winner (last file by name, last row):
    file_name, row_number, reason, raw_record.

    Exact duplicates (same contract values) stay for staging to collapse; keys compare as staging
    will see them: surrounding whitespace does not make a new key. Repeated keys are found by their
    hash (grouping fixed-width hashes costs a fraction of grouping the text); a hash collision only
    adds a candidate, which the exact partition below then finds alone.
    """
    pk = d.key(d.q(source.primary_key))
    content = ", ".join(d.q(c) for c in source.column_names)
    window = f"over (partition by {pk} order by _file_name desc, _row_number desc)"
    kept = d.literal(f"{CONFLICT_REASON}{source.primary_key}=")
    return f"""
        with repeated as (
            select hash({pk}) as _key_hash from {table} group by hash({pk}) having count(*) > 1
        ),
        keyed as (
            select *, hash({content}) as _h from {table}
            where hash({pk}) in (select _key_hash from repeated)
        ),
        ranked as (
            select *,
                first_value(_h) {window} as _winner_h,
                first_value(_file_name) {window} as _winner_file,
                first_value(_row_number) {window} as _winner_row
            from keyed
        )
        select _file_name as file_name, _row_number as row_number,
            {kept} || left({pk}, 200) || ' (kept ' || _winner_file || ' row '
                || cast(_winner_row as varchar) || ')' as reason,
            {d.record_json(source.column_names)} as raw_record
        from ranked where _h <> _winner_h
    """


def audit_ddl(d: Dialect) -> tuple[str, ...]:
    count, at = d.types["integer"], d.types["timestamp"]
    return (
        "create schema if not exists raw",
        "create schema if not exists audit",
        f"""create table if not exists audit.load_batches (
            run_id varchar, source varchar, file_name varchar,
            rows_read {count}, rows_loaded {count}, rows_rejected {count}, loaded_at {at})""",
        f"""create table if not exists audit.rejected_rows (
            run_id varchar, source varchar, file_name varchar, row_number {count},
            reason varchar, raw_record varchar, rejected_at {at})""",
    )
