"""Helpers for the stitching tests and benchmark: raw tables built directly in a DuckDB file, an
isolated copy of the dbt project, in-process dbt runs, and an independent reference (networkx)
implementation of the stitching rules."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import networkx as nx
import pyarrow as pa

from include.warehouse.emulator import Emulator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_DIR = PROJECT_ROOT / "dbt"
STITCHING_SELECT = ["+path:models/stitching"]

# The defaults of dbt_project.yml, repeated so the reference does not read the code under test.
DEFAULT_RULES = {
    "max_users_per_anonymous_id": 5,
    "max_anonymous_ids_per_user_id": 100,
    "bot_patterns": [r"^#\{", r"^\$\{", r"^\{\{", r"^(null|undefined|none|nan)$"],
}

Row = tuple[str | None, str | None]  # (anonymous_id, user_id) as they land, before trimming


@dataclass
class Dataset:
    """Identify events of both SDKs and order user_ids, as raw values (untrimmed, maybe blank)."""

    js: list[Row] = field(default_factory=list)
    ruby: list[Row] = field(default_factory=list)
    order_user_ids: list[str] = field(default_factory=list)

    def extend(self, other: Dataset) -> None:
        self.js += other.js
        self.ruby += other.ruby
        self.order_user_ids += other.order_user_ids

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps({"js": self.js, "ruby": self.ruby, "orders": self.order_user_ids}),
                        encoding="utf-8")

    @staticmethod
    def load(path: Path) -> Dataset:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return Dataset([tuple(r) for r in raw["js"]], [tuple(r) for r in raw["ruby"]], raw["orders"])

    def shuffled(self, seed: int) -> Dataset:
        rng = random.Random(seed)
        js, ruby, orders = list(self.js), list(self.ruby), list(self.order_user_ids)
        for rows in (js, ruby, orders):
            rng.shuffle(rows)
        return Dataset(js, ruby, orders)


# --- the project under test ---------------------------------------------------------------------


def copy_project(dest: Path, exclusion_list: Sequence[tuple[str, str, str]] = (),
                 link_exclusions: Sequence[dict[str, str]] = ()) -> Path:
    """A copy of the dbt project with only the staging and stitching layers (other engineers' layers
    cannot break these tests mid-edit), the given exclusion-list seed and link-exclusion seed."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy2(DBT_DIR / name, dest / name)
    shutil.copytree(DBT_DIR / "macros", dest / "macros")
    shutil.copytree(DBT_DIR / "seeds", dest / "seeds")
    for layer in ("staging", "stitching"):
        shutil.copytree(DBT_DIR / "models" / layer, dest / "models" / layer)
    shutil.copy2(DBT_DIR / "models" / "docs.md", dest / "models" / "docs.md")  # the shared doc blocks
    with (dest / "seeds" / "stitch_exclusion_list.csv").open("w", newline="", encoding="utf-8") as f:
        import csv

        writer = csv.writer(f)
        writer.writerow(["id", "id_type", "note"])
        writer.writerows(exclusion_list)
    write_link_exclusions(dest, link_exclusions)
    return dest


LINK_EXCLUSION_COLUMNS = ("anonymous_id", "user_id", "event_id", "valid_from", "valid_to", "reason", "decided_by",
                          "decided_at")


def write_link_exclusions(project: Path, entries: Sequence[dict[str, str]]) -> None:
    """The stitch_link_exclusions seed of a project copy: one CSV row per entry, its values as given
    (written verbatim, so a test can write malformed values); columns left out are empty, except a
    reason, decided_by and decided_at filled in when absent."""
    import csv

    defaults = {"reason": "test", "decided_by": "tests", "decided_at": "2024-03-01"}
    with (project / "seeds" / "stitch_link_exclusions.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(LINK_EXCLUSION_COLUMNS)
        for entry in entries:
            unknown = set(entry) - set(LINK_EXCLUSION_COLUMNS)
            assert not unknown, unknown
            writer.writerow([entry.get(c, defaults.get(c, "")) for c in LINK_EXCLUSION_COLUMNS])


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class DbtOutcome:
    success: bool
    output: str
    failures: list[str]


def run_dbt(
    project: Path,
    db_path: Path,
    command: str,
    select: Sequence[str] = STITCHING_SELECT,
    variables: dict | None = None,
    threads: int = 2,
    extra_args: Sequence[str] = (),
) -> DbtOutcome:
    """Run dbt in-process against a DuckDB file; returns success, the log text and failed nodes.
    extra_args: more options of the command, e.g. --exclude-resource-type test."""
    from dbt.cli.main import dbtRunner

    log_dir = project / "logs"
    args = [
        command,
        "--project-dir", str(project),
        "--profiles-dir", str(project),
        "--target-path", str(project / "target"),
        "--log-path", str(log_dir),
        "--threads", str(threads),
        "--no-send-anonymous-usage-stats",
        "--select", *select,
        *(["--indirect-selection", "cautious"] if command == "build" else []),
        "--vars", json.dumps(variables or {}),
        *extra_args,
    ]
    log_file = log_dir / "dbt.log"
    start = log_file.stat().st_size if log_file.exists() else 0
    with _env(C360_DUCKDB_PATH=str(db_path), C360_DBT_TARGET="dev"):
        result = dbtRunner().invoke(args)
    output = log_file.read_text(encoding="utf-8", errors="replace")[start:] if log_file.exists() else ""
    failures = []
    if result.result is not None and hasattr(result.result, "results"):
        failures = [
            f"{r.node.name}: {r.status}: {r.message}"
            for r in result.result.results
            if str(r.status) not in ("success", "pass")
        ]
    if result.exception is not None:
        failures.append(f"exception: {result.exception}")
    return DbtOutcome(bool(result.success), output, failures)


# --- raw tables -----------------------------------------------------------------------------------


def _identify_table(rows: Sequence[Row], sdk: str) -> pa.Table:
    start = datetime(2024, 1, 1)
    n = len(rows)
    return pa.table(
        {
            "id": [f"{sdk}-{i}" for i in range(n)],
            "anonymous_id": pa.array([r[0] for r in rows], pa.string()),
            "user_id": pa.array([r[1] for r in rows], pa.string()),
            "timestamp": [start + timedelta(seconds=i) for i in range(n)],
            "received_at": [start + timedelta(seconds=i + 1) for i in range(n)],
            "context_traits_email": pa.nulls(n, pa.string()),
            "context_library_name": pa.array([f"analytics-{sdk}"] * n, pa.string()),
        }
    )


def _orders_table(user_ids: Sequence[str]) -> pa.Table:
    n = len(user_ids)
    return pa.table(
        {
            "order_id": [f"o-{i}" for i in range(n)],
            "user_id": pa.array(list(user_ids), pa.string()),
            "status": ["completed"] * n,
            "ordered_at": [datetime(2024, 2, 1)] * n,
            "revenue_usd": pa.array([10.0] * n, pa.float64()),
            "subtotal_usd": pa.array([9.0] * n, pa.float64()),
            "refund_amount_usd": pa.nulls(n, pa.float64()),
            "coupon_code": pa.nulls(n, pa.string()),
        }
    )


def _raw_ddl(source: str) -> str:
    from include.contracts import load_sources

    columns = ", ".join(f'"{c.name}" {c.duckdb_type}' for c in load_sources()[source].columns)
    return (
        f"create or replace table raw.{source} ({columns}, _file_name varchar, _row_number bigint, "
        "_run_id varchar, _loaded_at timestamp)"
    )


def write_raw_tables(db_path: Path, tables: dict[str, pa.Table]) -> None:
    """(Re)create raw.<source> for each Arrow table, typed per the landing contract."""
    with duckdb.connect(str(db_path)) as con:
        con.execute("create schema if not exists raw")
        for source, table in tables.items():
            con.execute(_raw_ddl(source))
            con.register("incoming", table)
            names = ", ".join(f'"{n}"' for n in table.column_names)
            con.execute(
                f"insert into raw.{source} ({names}, _file_name, _row_number, _run_id, _loaded_at) "
                f"select {names}, 'test.parquet', row_number() over (), 'test', now() from incoming"
            )
            con.unregister("incoming")


def write_dataset(db_path: Path, data: Dataset) -> None:
    write_raw_tables(
        db_path,
        {
            "identifies_js": _identify_table(data.js, "js"),
            "identifies_ruby": _identify_table(data.ruby, "ruby"),
            "orders": _orders_table(data.order_user_ids),
        },
    )


def read_table(db_path: Path, query: str) -> list[tuple]:
    # not read_only: dbt-duckdb keeps its in-process handle open, and DuckDB refuses a second
    # handle with a different configuration
    with duckdb.connect(str(db_path)) as con:
        return con.execute(query).fetchall()


# --- reference implementation ---------------------------------------------------------------------

Node = tuple[str, str]  # (other_id_type, other_id)


def _clean(value: str | None) -> str | None:
    # as macros/staging/clean_id.sql: surrounding space, tab, newlines and no-break space go; blank -> null
    if value is None:
        return None
    value = value.strip(" \t\n\x0b\x0c\r\xa0")
    return value or None


@dataclass
class Expected:
    excluded: dict[Node, str]
    user_main_id: dict[Node, str]
    components: list[set[Node]]
    links: set[tuple[str, str]]  # (anonymous_id, user_id) pairs, before filtering
    bridges: set[Node]  # before filtering: anonymous_ids with > 1 user_id, user_ids with > 20 anonymous_ids


def main_id(members: Iterable[Node]) -> str:
    members = list(members)
    users = [i for t, i in members if t == "user_id"]
    key = "user_id:" + min(users) if users else "anonymous_id:" + min(i for t, i in members if t == "anonymous_id")
    return hashlib.md5(key.encode("utf-8")).hexdigest()


def reference(
    data: Dataset,
    rules: dict | None = None,
    exclusion_list: Sequence[tuple[str, str, str]] = (),
    unmerged_links: Iterable[tuple[str, str]] = (),
) -> Expected:
    """The stitching rules of issue 3, written independently of the SQL: networkx components of the
    rule-filtered graph. unmerged_links: (anonymous_id, user_id) links stitch_link_exclusions took out
    (every event of the pair matched), not edges of the graph but still counted by the link rules."""
    unmerged = set(unmerged_links)
    rules = {**DEFAULT_RULES, **(rules or {})}
    rows = [(_clean(a), _clean(u)) for a, u in data.js + data.ruby]
    nodes: set[Node] = set()
    links: set[tuple[str, str]] = set()
    for anon, user in rows:
        if anon is not None:
            nodes.add(("anonymous_id", anon))
        if user is not None:
            nodes.add(("user_id", user))
        if anon is not None and user is not None:
            links.add((anon, user))
    nodes |= {("user_id", u) for u in map(_clean, data.order_user_ids) if u is not None}

    users_of: dict[str, set[str]] = defaultdict(set)
    anons_of: dict[str, set[str]] = defaultdict(set)
    for anon, user in links:
        users_of[anon].add(user)
        anons_of[user].add(anon)

    listed = {(t.strip(" "), i.strip(" ")) for i, t, _ in exclusion_list}
    patterns = [re.compile(p) for p in rules["bot_patterns"]]
    excluded: dict[Node, str] = {}
    for node in nodes:
        kind, value = node
        if (kind, value) in listed:
            excluded[node] = "exclusion_list"
        elif any(p.search(value) for p in patterns):
            excluded[node] = "bot_pattern"
        elif kind == "anonymous_id" and len(users_of[value]) > rules["max_users_per_anonymous_id"]:
            excluded[node] = "super_connector"
        elif kind == "user_id" and len(anons_of[value]) > rules["max_anonymous_ids_per_user_id"]:
            excluded[node] = "shared_account"

    graph = nx.Graph()
    graph.add_nodes_from(n for n in nodes if n not in excluded)
    for anon, user in links - unmerged:
        a, u = ("anonymous_id", anon), ("user_id", user)
        if a not in excluded and u not in excluded:
            graph.add_edge(a, u)
    components = [set(c) for c in nx.connected_components(graph)]
    ids = {node: main_id(c) for c in components for node in c}
    bridges = {("anonymous_id", a) for a, us in users_of.items() if len(us) > 1}
    bridges |= {("user_id", u) for u, anons in anons_of.items() if len(anons) > 20}
    return Expected(excluded=excluded, user_main_id=ids, components=components, links=links,
                    bridges=bridges)


def actual_stitch(db_path: Path, schema: str = "stitching") -> dict[Node, str]:
    """user_id_stitcher of a DuckDB warehouse; schema: e.g. stitching__blue for a coloured build."""
    rows = read_table(db_path, f"select other_id_type, other_id, user_main_id from {schema}.user_id_stitcher")
    return {(t, i): m for t, i, m in rows}


def actual_excluded(db_path: Path, schema: str = "stitching") -> dict[Node, str]:
    rows = read_table(db_path, f"select other_id_type, other_id, reason from {schema}.excluded_ids")
    return {(t, i): r for t, i, r in rows}


def partition(assignment: dict[Node, str]) -> set[frozenset[Node]]:
    groups: dict[str, set[Node]] = defaultdict(set)
    for node, label in assignment.items():
        groups[label].add(node)
    return {frozenset(g) for g in groups.values()}


# --- Snowflake SQL semantics on the Snowflake emulator (fakesnow's HTTP server) -------------------------


_SNOWFLAKE_TYPES = {"string": "varchar", "timestamp": "timestamp_ntz", "decimal(18,2)": "number(18,2)",
                    "integer": "number", "boolean": "boolean"}
SNOWFLAKE_DBT_TIMEOUT = 300


def run_on_emulator(emulator: Emulator, project: Path, data: Dataset, database: str = "c360_stitching",
                    conn_id: str = "snowflake_default") -> tuple[dict[Node, str], dict[Node, str]]:
    """Load the dataset into raw tables on the Snowflake emulator (include/warehouse/emulator.py, a
    database of its own) and build the stitching layer with dbt-snowflake in a child process with a
    hard timeout, through the profile Cosmos builds from the Airflow connection and the DAG's dbt
    environment; returns the (stitched, excluded) assignments read back from the emulator."""
    import subprocess
    import sys

    import pytest

    from include.contracts import load_sources
    from include.orchestration.dbt_profiles import SnowflakeConnectionProfileMapping, dbt_env_vars
    from include.warehouse.snowflake import snowflake_hook

    sources = load_sources()
    tables = {
        "identifies_js": _identify_table(data.js, "js"),
        "identifies_ruby": _identify_table(data.ruby, "ruby"),
        "orders": _orders_table(data.order_user_ids),
    }
    connection = emulator.connection()
    connection["extra"]["database"] = database
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        mp.setenv("C360_SNOWFLAKE_CONN_ID", conn_id)
        with contextlib.closing(snowflake_hook().get_conn()) as con, contextlib.closing(con.cursor()) as cur:
            cur.execute("create schema if not exists raw")
            for name, table in tables.items():
                columns = ", ".join(f"{c.name} {_SNOWFLAKE_TYPES[c.type]}" for c in sources[name].columns)
                cur.execute(f"create or replace table raw.{name} ({columns}, _file_name varchar, "
                            "_row_number number, _run_id varchar, _loaded_at timestamp_ntz)")
                names = table.column_names
                rows = [
                    (*(row[n] for n in names), "test.csv", i + 1, "test", datetime(2024, 3, 1))
                    for i, row in enumerate(table.to_pylist())
                ]
                placeholders = ", ".join(["%s"] * (len(names) + 4))
                cur.executemany(
                    f"insert into raw.{name} ({', '.join(names)}, _file_name, _row_number, _run_id, _loaded_at) "
                    f"values ({placeholders})",
                    rows,
                )
            # The profile exactly as Cosmos writes it for a task, from the Airflow connection.
            mapping = SnowflakeConnectionProfileMapping(conn_id, {"threads": 1})
            profiles = project.parent / "snowflake-profiles"
            profiles.mkdir(exist_ok=True)
            (profiles / "profiles.yml").write_text(mapping.get_profile_file_contents("c360", "prod"))
            proc = subprocess.run(
                [str(Path(sys.executable).parent / "dbt"), "build", "--project-dir", str(project),
                 "--profiles-dir", str(profiles), "--target", "prod",
                 "--target-path", str(project / "target-snowflake"), "--log-path", str(project / "logs-snowflake"),
                 "--no-send-anonymous-usage-stats", "--threads", "1",
                 "--select", *STITCHING_SELECT, "--indirect-selection", "cautious"],
                cwd=project, capture_output=True, text=True, timeout=SNOWFLAKE_DBT_TIMEOUT,
                env={**os.environ, **mapping.env_vars, **dbt_env_vars("snowflake")},
            )
            if proc.returncode != 0:
                raise AssertionError(f"dbt-snowflake on the emulator failed:\n{proc.stdout[-6000:]}\n"
                                     f"{proc.stderr[-3000:]}")
            cur.execute("select other_id_type, other_id, user_main_id from stitching.user_id_stitcher")
            stitched = cur.fetchall()
            cur.execute("select other_id_type, other_id, reason from stitching.excluded_ids")
            excluded = cur.fetchall()
    return {(t, i): m for t, i, m in stitched}, {(t, i): r for t, i, r in excluded}
