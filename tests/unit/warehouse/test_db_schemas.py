"""Db.with_schemas: how the gate and on-call read an unpublished build with the SQL of the contract names."""

from __future__ import annotations

import duckdb

from include.warehouse.db import Db


def test_names_of_mapped_schemas_are_read_from_the_build_and_nothing_else_changes() -> None:
    con = duckdb.connect()
    con.execute("create schema marts__green; create table marts__green.t as select 1 as x")
    con.execute("create schema marts; create table marts.t as select 2 as x")
    db = Db(con).with_schemas({"marts": "marts__green"})
    assert db.scalar("select x from marts.t") == 1
    assert db.scalar("select x from MARTS.t where 'marts.t' = ?", ("marts.t",)) == 1  # literals untouched
    assert db.columns("marts.t") == {"x"} and db.table_exists("Marts.t")
    assert db._mapped("select 1 from xmarts.t, information_schema.tables, 'it''s marts.t'") == (
        "select 1 from xmarts.t, information_schema.tables, 'it''s marts.t'")
    assert Db(con).scalar("select x from marts.t") == 2  # the original reads the contract schema


def test_the_catalog_lists_what_a_mapped_db_reads() -> None:
    con = duckdb.connect()
    con.execute("create schema marts__green; create table marts__green.only_in_build as select 1 as x")
    con.execute("create schema marts; create table marts.only_published as select 2 as x")
    tables = Db(con).with_schemas({"marts": "marts__green"}).tables()
    assert "marts.only_in_build" in tables
    assert "marts.only_published" not in tables and "marts__green.only_in_build" not in tables
