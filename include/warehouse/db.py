"""`Db`: queries on a DuckDB connection or a Snowflake DB-API connection (the provider's
SnowflakeHook(...).get_conn(); fakesnow in the tests), with one SQL text for both.

The SQL is written once, in what both databases accept, with `?` placeholders; how each driver
binds parameters lives in PARAM_STYLES. (The loaders' SQL spellings per database are
include/loading/rules.py's Dialect; the gate's and alerts' SQL needs none.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamStyle:
    # What a `?` placeholder becomes: the Snowflake connector binds client-side in pyformat.
    placeholder: str
    # pyformat reads `%` as the start of a placeholder whenever parameters are passed.
    escape_percent: bool


PARAM_STYLES = {
    "duckdb": ParamStyle("?", escape_percent=False),
    "snowflake": ParamStyle("%s", escape_percent=True),
}


def split_name(qualified: str) -> tuple[str, str, str | None]:
    """schema, table and (when given) column of a dotted name."""
    parts = qualified.split(".")
    return parts[0], parts[1], parts[2] if len(parts) > 2 else None


# A single-quoted SQL literal ('' escapes a quote): schema names inside one are text, not names.
_LITERAL = re.compile(r"('(?:[^']|'')*')")


class Db:
    """Queries on one connection; the caller owns (and closes) the connection."""

    schemas: Mapping[str, str] = {}

    def __init__(self, con: Any, dialect: str | None = None) -> None:
        # by module, not isinstance: importing duckdb would cost every DAG parse ~0.2 s
        name = dialect or ("duckdb" if type(con).__module__.lstrip("_").startswith("duckdb") else "snowflake")
        if name not in PARAM_STYLES:
            raise ValueError(f"unknown database {name!r}; use one of: {', '.join(PARAM_STYLES)}")
        self.dialect = name
        self._style = PARAM_STYLES[name]
        # A DuckDB cursor is a second connection with its own settings (the UTC time zone): use the
        # connection itself, which executes and fetches like a cursor.
        self._cur = con if name == "duckdb" else con.cursor()

    def with_schemas(self, schemas: Mapping[str, str]) -> Db:
        """The same connection, reading `schema.table` as `schemas[schema].table` in every query and
        catalog lookup: how the gate and on-call read a build that is not published (e.g.
        {"marts": "marts__green"}), with the SQL they use on the published names."""
        mapped = object.__new__(Db)
        mapped.__dict__.update(self.__dict__)
        mapped.schemas = {k.lower(): v for k, v in schemas.items()}
        if mapped.schemas:
            names = "|".join(re.escape(k) for k in mapped.schemas)
            mapped._schema_pattern = re.compile(rf"(?<![\w.\"])({names})\.(?=[a-z_\"])", re.IGNORECASE)
        return mapped

    def _mapped(self, sql: str) -> str:
        if not self.schemas:
            return sql
        parts = _LITERAL.split(sql)
        for i in range(0, len(parts), 2):
            parts[i] = self._schema_pattern.sub(lambda m: self.schemas[m.group(1).lower()] + ".", parts[i])
        return "".join(parts)

    def _sql(self, sql: str, params: Sequence[Any]) -> str:
        sql = self._mapped(sql)
        if not params or self._style.placeholder == "?":
            return sql
        if self._style.escape_percent:
            sql = sql.replace("%", "%%")
        return sql.replace("?", self._style.placeholder)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if params:
            self._cur.execute(self._sql(sql, params), tuple(params))
        else:
            self._cur.execute(self._mapped(sql))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self.execute(sql, params)
        return [tuple(r) for r in self._cur.fetchall()]

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts keyed by lower-case column name: Snowflake returns unquoted names upper-case."""
        self.execute(sql, params)
        names = [str(d[0]).lower() for d in self._cur.description]
        return [dict(zip(names, row, strict=True)) for row in self._cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return row[0] if row else None

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cur.executemany(self._sql(sql, rows[0]), [tuple(r) for r in rows])

    def script(self, statements: Sequence[str]) -> None:
        """DDL one statement at a time: a Snowflake call takes exactly one statement."""
        for statement in statements:
            self.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.execute("rollback")
            raise
        self.execute("commit")

    def columns(self, qualified: str) -> set[str]:
        """Lower-case column names of schema.table; empty when it does not exist. Snowflake keeps
        unquoted names upper-case, DuckDB as written: compare without case."""
        schema, table, _ = split_name(qualified)
        schema = self.schemas.get(schema.lower(), schema)
        return {str(r[0]).lower() for r in self.rows(
            "select column_name from information_schema.columns "
            "where upper(table_schema) = upper(?) and upper(table_name) = upper(?)",
            (schema, table),
        )}

    def table_exists(self, qualified: str) -> bool:
        return bool(self.columns(qualified))

    def tables(self) -> set[str]:
        """Every schema.table (and view) of the database, lower-case; with schemas mapped, what this Db
        reads under each name (a mapped schema's own objects are not what it reads)."""
        # Views listed apart too: the emulator's information_schema.tables lists only tables.
        found = {(str(s).lower(), str(t).lower()) for catalog in ("tables", "views") for s, t in self.rows(
            f"select table_schema, table_name from information_schema.{catalog}")}
        if self.schemas:
            read_as = {target.lower(): name for name, target in self.schemas.items()}
            found = {(read_as.get(s, s), t) for s, t in found if s not in self.schemas}
        return {f"{s}.{t}" for s, t in found}
