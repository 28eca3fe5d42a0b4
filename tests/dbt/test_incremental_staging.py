"""Incremental staging: the latest_landed materialization (dbt/macros/staging/latest_landed.sql) of
every staging model, over what a landing goes through.

Landing files are generated (include.synthetic) and loaded by the real loaders (audit.load_batches
included). After each step the staging models run incrementally in one warehouse, and every staging
table is compared with a from-scratch `--full-refresh` build of the same raw data in another one:
columns, row counts and EXCEPT ALL both ways (EXCEPT on the Snowflake emulator). The steps: a new
day's files; a later file with duplicates of earlier rows (exact copies, conflicting values, a padded
key) and new keys; that file changed so that winners move back to the earlier file and keys go;
a vanished file dropped by a loader full refresh, with tables in states a failed or older run could
leave (a table from four runs ago, wrong fingerprints, a file's rows missing, stray work tables, a
table from before the fingerprint column); no change; no audit.load_batches (full builds). One
sequence also runs through dbt-snowflake on the emulator.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import duckdb
import pytest

from include.contracts import load_sources
from include.loading.duckdb_loader import load_source
from include.warehouse.emulator import Emulator
from tests.support.stitching_fixtures import DBT_DIR, copy_project

pytestmark = pytest.mark.slow  # dozens of dbt runs of the staging layer, three on the Snowflake emulator

STAGING = ["path:models/staging"]
TABLES = (
    "base_rudderstack__identifies_js",
    "base_rudderstack__identifies_ruby",
    "stg_rudderstack__identifies",
    "stg_shop__designs",
    "stg_shop__order_items",
    "stg_shop__orders",
    "stg_shop__products",
)
SOURCES = load_sources()
# A column per source whose value a conflicting duplicate changes, and the value it takes.
CONFLICTS = {
    "identifies_js": ("context_library_name", "conflicting-library"),
    "identifies_ruby": ("context_library_name", "conflicting-library"),
    "orders": ("coupon_code", "CONFLICT"),
    "order_items": ("unit_price_usd", "1.23"),
    "products": ("product_name", "Conflicting product"),
    "designs": ("theme_genre", "conflicting"),
}
FIRST_FILE = "part-00000.csv"
DUPLICATES_FILE = "part-zz-duplicates.csv"  # sorts after every generated file: its copies win


# --- landing files ------------------------------------------------------------------------------------


def csv_lines(path: Path) -> tuple[str, list[str]]:
    """A generated CSV file as its header and data lines (a record per line: the tests copy lines
    verbatim, so that an exact duplicate is byte for byte the landed record)."""
    header, *lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    return header, lines


def fields(line: str) -> list[str]:
    return next(csv.reader([line]))


def with_field(header: str, line: str, column: str, value: str) -> str:
    names, values = fields(header), fields(line)
    assert len(values) == len(names), f"not one record per line: {line!r}"
    values[names.index(column)] = value
    out = csv.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def key_of(source: str, header: str, line: str) -> str:
    return fields(line)[fields(header).index(SOURCES[source].primary_key)]


def duplicates(source: str, header: str, lines: list[str]) -> dict[str, list[str]]:
    """Lines of a later file for one source, from the first lines of its first file: exact copies,
    copies with another value (the loader quarantines the earlier copy), copies under a new key,
    and, for ids staging cleans (clean_id), the same record under its key padded with spaces."""
    key = SOURCES[source].primary_key
    column, value = CONFLICTS[source]
    out = {
        "exact": lines[0:8],
        "conflicting": [with_field(header, line, column, value) for line in lines[8:12]],
        "new_keys": [with_field(header, line, key, f"{key_of(source, header, line)}-new") for line in lines[12:16]],
        "padded": [],
    }
    if not source.startswith("identifies"):
        out["padded"] = [with_field(header, lines[16], key, f"  {key_of(source, header, lines[16])} ")]
    return out


def write_duplicates(landing: Path, keep: dict[str, slice]) -> dict[str, dict[str, list[str]]]:
    """(Re)write every source's duplicates file keeping, of each kind, the lines `keep` says; returns
    the keys written and the keys left out, by source and kind."""
    written: dict[str, dict[str, list[str]]] = {}
    for source in SOURCES:
        header, lines = csv_lines(landing / source / FIRST_FILE)
        kept, dropped = [], {}
        for kind, kind_lines in duplicates(source, header, lines).items():
            chosen = kind_lines[keep.get(kind, slice(None))]
            kept += chosen
            dropped[f"dropped_{kind}"] = [key_of(source, header, line) for line in kind_lines if line not in chosen]
            dropped[kind] = [key_of(source, header, line) for line in chosen]
        (landing / source / DUPLICATES_FILE).write_text(header + "".join(kept), encoding="utf-8")
        written[source] = dropped
    return written


# --- dbt on DuckDB ------------------------------------------------------------------------------------


def dbt(project: Path, warehouse: Path, *args: str) -> str:
    """dbt in-process on a DuckDB file, staging models only; returns the run's log text."""
    from dbt.cli.main import dbtRunner

    log_file = project / "logs" / "dbt.log"
    start = log_file.stat().st_size if log_file.exists() else 0
    saved = {name: os.environ.get(name) for name in ("C360_DUCKDB_PATH", "C360_DBT_TARGET")}
    os.environ.update(C360_DUCKDB_PATH=str(warehouse), C360_DBT_TARGET="dev")
    try:
        result = dbtRunner().invoke([
            "run", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(project / "target"), "--log-path", str(project / "logs"),
            "--threads", "4", "--no-send-anonymous-usage-stats", "--select", *STAGING, *args,
        ])
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    failed = [f"{r.node.name}: {r.status}: {r.message}" for r in (result.result or [])
              if str(r.status) != "success"]
    assert result.success and not failed, f"dbt run {' '.join(args)} failed: {result.exception or failed}"
    return log_file.read_text(encoding="utf-8", errors="replace")[start:]


def paths(log: str) -> dict[str, str]:
    """Each model's path in a run's log: 'incremental' or 'full build (<reason>)'."""
    found = {}
    for model, path in re.findall(r"\b(\w+): (incremental|full build \([^)]*\))", log):
        if model in TABLES:
            found[model] = path
    return found


def load(warehouse: Path, landing: Path, run_id: str, full_refresh: bool = False) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for source in SOURCES.values():
            load_source(con, source, landing, run_id, full_refresh=full_refresh)


def query(warehouse: Path, sql: str) -> list[tuple]:
    # not read_only: dbt-duckdb keeps its in-process handle open (tests/support/stitching_fixtures.py)
    with duckdb.connect(str(warehouse)) as con:
        return con.execute(sql).fetchall()


def execute(warehouse: Path, *statements: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for statement in statements:
            con.execute(statement)


def full_rebuild(project: Path, warehouse: Path, reference: Path) -> None:
    """The same raw data (raw.*, audit.load_batches) in another warehouse, staged from scratch with
    --full-refresh. The reference keeps its path (and project copy), so dbt parses it once."""
    with duckdb.connect(str(warehouse)) as source, duckdb.connect(str(reference)) as target:
        for schema in ("staging", "raw", "audit"):
            target.execute(f"drop schema if exists {schema} cascade")
            target.execute(f"create schema {schema}")
        for table in [*(f"raw.{name}" for name in SOURCES), "audit.load_batches"]:
            target.register("landed", source.sql(f"select * from {table}").to_arrow_table())
            target.execute(f"create table {table} as select * from landed")
            target.unregister("landed")
    assert set(paths(dbt(project, reference, "--full-refresh")).values()) == {"full build (--full-refresh)"}


def staging_tables(warehouse: Path) -> dict[str, object]:
    with duckdb.connect(str(warehouse)) as con:
        return {table: con.sql(f"select * from staging.{table}").to_arrow_table() for table in TABLES}


def assert_equal(incremental: Path, reference: Path, where: str, ignore: str | None = None) -> None:
    actual, expected = staging_tables(incremental), staging_tables(reference)
    with duckdb.connect() as con:
        for table in TABLES:
            a, b = actual[table], expected[table]
            if ignore:
                a, b = a.drop_columns([ignore]), b.drop_columns([ignore])
            assert a.column_names == b.column_names, f"{where}: {table} columns"
            con.register("incremental_rows", a)
            con.register("full_rows", b)
            (only_incremental,), = con.execute(
                "select count(*) from (select * from incremental_rows except all select * from full_rows)").fetchall()
            (only_full,), = con.execute(
                "select count(*) from (select * from full_rows except all select * from incremental_rows)").fetchall()
            assert (a.num_rows, only_incremental, only_full) == (b.num_rows, 0, 0), (
                f"{where}: staging.{table} differs from a full rebuild: {a.num_rows} rows vs {b.num_rows}, "
                f"{only_incremental} only incremental, {only_full} only in the full build")


# --- the sequence on DuckDB ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("incremental_staging") / "dbt")


@pytest.fixture(scope="module")
def reference_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second copy for the full rebuilds: each copy keeps its warehouse path, and so its parse."""
    return copy_project(tmp_path_factory.mktemp("incremental_staging_reference") / "dbt")


def winner_file(warehouse: Path, table: str, key_column: str, key: str) -> str | None:
    rows = query(warehouse, f"select landed_file_name from staging.{table} where {key_column} = '{key}'")
    assert len(rows) <= 1
    return rows[0][0] if rows else None


STAGED = {  # source -> (staging table, its key column, whether staging trims the key)
    "identifies_js": ("base_rudderstack__identifies_js", "event_id", False),
    "identifies_ruby": ("base_rudderstack__identifies_ruby", "event_id", False),
    "orders": ("stg_shop__orders", "order_id", True),
    "order_items": ("stg_shop__order_items", "order_item_id", True),
    "products": ("stg_shop__products", "product_id", True),
    "designs": ("stg_shop__designs", "design_id", True),
}


def test_incremental_staging_equals_a_full_rebuild_after_every_step(project: Path, reference_project: Path,
                                                                    tmp_path: Path) -> None:
    from include.synthetic import generate, next_day

    landing, warehouse = tmp_path / "landing", tmp_path / "incremental.duckdb"
    generate(landing, num_customers=80, seed=5, files_per_source=2)
    steps = iter(range(1, 100))

    def step(label: str, expect_incremental: set[str] | None = None) -> str:
        """Stage (incrementally, unless expect_incremental says otherwise), then compare with a full
        rebuild; returns the run's log."""
        number = next(steps)
        log = dbt(project, warehouse)
        taken = paths(log)
        assert set(taken) == set(TABLES), f"step {number} ({label}): models without a log line: {taken}"
        incremental = {m for m, path in taken.items() if path == "incremental"}
        assert incremental == (set(TABLES) if expect_incremental is None else expect_incremental), (
            f"step {number} ({label}): paths taken {taken}")
        full_rebuild(reference_project, warehouse, tmp_path / "reference.duckdb")
        assert_equal(warehouse, tmp_path / "reference.duckdb", f"step {number} ({label})")
        return log

    load(warehouse, landing, "load-1")
    assert set(paths(dbt(project, warehouse)).values()) == {"full build (first run)"}
    execute(warehouse, *(f"create table main.before_{t} as select * from staging.{t}" for t in TABLES))

    next_day(landing)
    load(warehouse, landing, "load-2")
    step("a new day's files")

    written = write_duplicates(landing, {})
    load(warehouse, landing, "load-3")
    step("a later file: exact and conflicting duplicates, a padded key, new keys")
    for source, (table, key_column, trims) in STAGED.items():
        for kind in ("exact", "conflicting", "new_keys", *(("padded",) if trims else ())):
            for key in written[source][kind]:
                assert winner_file(warehouse, table, key_column, key.strip() if trims else key) == DUPLICATES_FILE, (
                    f"{table}: {kind} {key} did not move to the later file")

    # Every other line of each kind goes: those exact and conflicting copies' winners move back to
    # the first file (the loader un-quarantines a conflict's earlier copy), those new keys go.
    changed = write_duplicates(landing, {kind: slice(None, None, 2) for kind in ("exact", "conflicting", "new_keys")})
    load(warehouse, landing, "load-4")
    log = step("the later file changed: winners move back to an earlier file, keys go")
    # the log line names both contents of the file: the table's rows' and the current one
    assert re.search(rf"stg_shop__orders: incremental: 2 affected files \(landed orders/{DUPLICATES_FILE}, "
                     rf"staged orders/{DUPLICATES_FILE}\), \d+ affected keys", log), log[-3000:]
    for source, (table, key_column, _) in STAGED.items():
        for key in changed[source]["dropped_exact"] + changed[source]["dropped_conflicting"]:
            assert winner_file(warehouse, table, key_column, key) == FIRST_FILE, f"{table}: {key} did not move back"
        for key in changed[source]["dropped_new_keys"]:
            assert winner_file(warehouse, table, key_column, key) is None, f"{table}: {key} did not go"
        assert changed[source]["dropped_exact"] and changed[source]["dropped_new_keys"]

    # A file vanishes and the loader reloads the sources whole (its rows leave raw, its batch is
    # retired); and the tables are in states a failed or older run could leave.
    for source in SOURCES:
        (landing / source / DUPLICATES_FILE).unlink()
    load(warehouse, landing, "load-5", full_refresh=True)
    execute(
        warehouse,
        # a table as the first run left it, four runs ago
        "delete from staging.base_rudderstack__identifies_js",
        "insert into staging.base_rudderstack__identifies_js select * from main.before_base_rudderstack__identifies_js",
        # fingerprints gone wrong on some rows, and all null (as a build without audit.load_batches leaves)
        "update staging.stg_shop__orders set landed_file_sha256 = 'not-the-sha' where order_id like '%1'",
        "update staging.stg_shop__products set landed_file_sha256 = null",
        # a whole file's rows missing
        f"delete from staging.stg_shop__order_items where landed_file_name = '{FIRST_FILE}'",
        # stray work tables of a run that died, holding nonsense
        "create table staging.stg_shop__designs__ll_keys as select 'junk' as landed_key",
        "create table staging.stg_shop__designs__ll_files as select 'designs' as landed_source, "
        f"'{FIRST_FILE}' as file_name, 'x' as content_sha256, 'staged' as side",
        # a table from before the fingerprint column: built in full
        "alter table staging.stg_rudderstack__identifies drop column landed_file_sha256",
    )
    step("a vanished file dropped by a loader full refresh; states a failed or older run leaves",
         expect_incremental=set(TABLES) - {"stg_rudderstack__identifies"})
    assert not query(warehouse, f"select * from staging.stg_shop__orders where landed_file_name = '{DUPLICATES_FILE}'")
    assert not query(warehouse, "select table_name from information_schema.tables "
                                "where table_schema = 'staging' and contains(table_name, '__ll_')")

    # Nothing new: the raw data, and so the full rebuild, are the last step's.
    assert set(paths(dbt(project, warehouse)).values()) == {"incremental"}
    assert_equal(warehouse, tmp_path / "reference.duckdb", "nothing changed")

    # Without audit.load_batches (raw tables written by hand, as plain dbt test runs do) every run is
    # a full build without fingerprints, and the audit source does not fail it.
    execute(warehouse, "drop schema audit cascade")
    assert set(paths(dbt(project, warehouse)).values()) \
        == {"full build (no audit.load_batches with content_sha256 and is_current)"}
    assert_equal(warehouse, tmp_path / "reference.duckdb", "no audit.load_batches", ignore="landed_file_sha256")
    for table in TABLES:
        assert query(warehouse, f"select count(landed_file_sha256) from staging.{table}") == [(0,)], table


# --- one sequence on the Snowflake emulator -----------------------------------------------------------


@contextmanager
def on_emulator(emulator: Emulator, database: str, work: Path) -> Iterator[tuple[object, Path, dict[str, str]]]:
    """A cursor on `database` of the emulator, and the dbt profile (as Cosmos writes it) and
    environment for it."""
    from include.warehouse.snowflake import snowflake_hook
    from tests.support.snowflake_dbt import snowflake_deployment, snowflake_profile

    work.mkdir(parents=True, exist_ok=True)
    with snowflake_deployment(emulator, database, work):
        profiles, env = snowflake_profile(work)
        with closing(snowflake_hook().get_conn()) as conn, closing(conn.cursor()) as cur:
            yield cur, profiles, env


def dbt_snowflake(project: Path, profiles: Path, env: dict[str, str], *args: str) -> str:
    from tests.support.snowflake_dbt import DBT, STEP_TIMEOUT

    logs = profiles.parent / "logs"
    proc = subprocess.run(
        [str(DBT), "run", "--project-dir", str(project), "--profiles-dir", str(profiles), "--target", "prod",
         "--target-path", str(profiles.parent / "target"), "--log-path", str(logs), "--threads", "1",
         "--select", *STAGING, *args],
        cwd=profiles.parent, capture_output=True, text=True, timeout=STEP_TIMEOUT,
        env={**os.environ, **env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"},
    )
    assert proc.returncode == 0, f"dbt-snowflake failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


def test_incremental_staging_on_snowflake_sql_via_fakesnow(project: Path, tmp_path: Path,
                                                           snowflake_emulator: Emulator) -> None:
    """The Snowflake loader and dbt-snowflake on the emulator: a full build, then one incremental run
    over a changed later file (winners back to the first file, keys gone), a new file of duplicates
    and a new key, wrong fingerprints and a file's missing rows; equal to a --full-refresh build of
    the same raw data in another database."""
    from include.loading.snowflake_loader import load_source_snowflake
    from include.synthetic import generate

    landing = tmp_path / "landing"
    generate(landing, num_customers=40, seed=9)
    write_duplicates(landing, {})
    incremental, reference = "c360_staging_incremental", "c360_staging_full"

    with on_emulator(snowflake_emulator, incremental, tmp_path / "incremental") as (cur, profiles, env):
        for source in SOURCES.values():
            load_source_snowflake(source, landing, "load-1")
        assert set(paths(dbt_snowflake(project, profiles, env)).values()) == {"full build (first run)"}

        changed = write_duplicates(landing, {kind: slice(None, None, 2)
                                             for kind in ("exact", "conflicting", "new_keys")})
        for source in SOURCES:  # a new file: more copies of the first file's lines, and a new key
            header, lines = csv_lines(landing / source / FIRST_FILE)
            new_key = with_field(header, lines[0], SOURCES[source].primary_key, "brand-new")
            (landing / source / "part-zzz-more.csv").write_text(header + "".join(lines[18:21]) + new_key,
                                                                encoding="utf-8")
        for source in SOURCES.values():
            load_source_snowflake(source, landing, "load-2")
        cur.execute("update staging.stg_shop__orders set landed_file_sha256 = 'not-the-sha' where order_id like '%1'")
        cur.execute(f"delete from staging.stg_shop__designs where landed_file_name = '{FIRST_FILE}'")
        assert set(paths(dbt_snowflake(project, profiles, env)).values()) == {"incremental"}
        cur.execute("select order_id, landed_file_name from staging.stg_shop__orders where order_id in ("
                    + ", ".join(f"'{k}'" for k in changed["orders"]["dropped_exact"]
                                + changed["orders"]["dropped_new_keys"]) + ")")
        assert sorted(cur.fetchall()) == sorted((k, FIRST_FILE) for k in changed["orders"]["dropped_exact"])

    with on_emulator(snowflake_emulator, reference, tmp_path / "reference") as (cur, profiles, env):
        cur.execute(f"create database if not exists {reference}")
        for schema in ("raw", "audit"):
            cur.execute(f"create schema if not exists {reference}.{schema}")
        for table in [f"raw.{name}" for name in SOURCES] + ["audit.load_batches"]:
            cur.execute(f"create table {reference}.{table} as select * from {incremental}.{table}")
        assert set(paths(dbt_snowflake(project, profiles, env, "--full-refresh")).values()) \
            == {"full build (--full-refresh)"}
        for table in TABLES:
            ours, theirs = f"{incremental}.staging.{table}", f"{reference}.staging.{table}"
            cur.execute(f"select (select count(*) from {ours}), (select count(*) from {theirs}), "
                        f"(select count(*) from (select * from {ours} except select * from {theirs})), "
                        f"(select count(*) from (select * from {theirs} except select * from {ours}))")
            counts = cur.fetchone()
            assert counts[0] == counts[1] and counts[2:] == (0, 0), f"{table} on the emulator: {counts}"
        cur.execute(f"select count(*) from {incremental}.information_schema.tables "
                    "where lower(table_schema) = 'staging' and contains(lower(table_name), '__ll_')")
        assert cur.fetchone() == (0,)


def test_every_staging_model_is_compared() -> None:
    assert sorted(p.stem for p in (DBT_DIR / "models" / "staging").rglob("*.sql")) == sorted(TABLES)
