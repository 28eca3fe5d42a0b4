"""Quotes and backslashes survive every string literal the dbt macros build (sql_string_literal), on
the Snowflake emulator through dbt-snowflake: the Airflow run id in audit.dbt_results (on-run-end hook),
stitching.stitch_runs (the connected_components materialization) and stitch_cluster_health; the
bot-id regexes of excluded_ids (regex_search) and the reasons that name them; a dbt error message in
audit.dbt_results; and the ids themselves, end to end into user_id_stitcher.

Snowflake reads a backslash inside quotes as an escape character, DuckDB does not: a value escaped
the DuckDB way ('' only) arrives altered, or breaks the statement, only on Snowflake.

The project copy holds the staging and stitching layers only (plus a probe model that fails on
purpose), the raw tables are written here, not by the loader, and dbt runs as a child process with a
hard timeout: the Snowflake connector retries a failing request for minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.contracts import load_sources
from include.warehouse.emulator import Emulator
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

DBT = Path(sys.executable).parent / "dbt"
# Seconds per dbt invocation; each takes 15-40 s here. dbt-snowflake cannot pass the connector a
# network_timeout, so a statement the emulator answers with HTTP 500 is retried until this kills dbt.
DBT_TIMEOUT = 180
# A backslash before a quote, a doubled backslash and a double quote: `run\'x\\y"z`.
RUN_ID = "run\\'x\\\\y\"z"
PROBE_MESSAGE = "probe failure: it's a \\'quoted\\' \"path\" C:\\temp\\ \\\\server end\\"
ODD_USER = "a\\b'c"  # a\b'c
ODD_ANON = "anon\\'2\\\\x"  # anon\'2\\x
ODD_ORDER_USER = "q\"\\z'"  # q"\z'
QUOTE_BOT = "o'bot7"
# The project's default bot patterns plus one with a quote, passed as --vars like a run's params.
BOT_PATTERNS = ["^#\\{", "^\\$\\{", "^\\{\\{", "^(null|undefined|none|nan)$", "^o'bot\\d+$"]

# The contract's types on Snowflake, as the loader creates the raw tables (include/loading/rules.py).
SNOWFLAKE_TYPES = {"string": "varchar", "timestamp": "timestamp_ntz", "decimal(18,2)": "number(18,2)",
                   "integer": "number(38,0)", "boolean": "boolean"}

# (anonymous_id, user_id) of identify events; the ids with quotes and backslashes link to plain ones.
IDENTIFIES = [
    ("anon-1", ODD_USER),
    ("anon-1", "u-plain"),
    (ODD_ANON, ODD_USER),
    (ODD_ANON, None),
    ("#{anonymousId}", "u-bot"),  # matches ^#\{
    ("${anonymousId}", "u-bot-2"),  # matches ^\$\{
    ("anon-3", QUOTE_BOT),  # matches ^o'bot\d+$
    ("anon-4", ODD_ORDER_USER),
]


def raw_rows() -> dict[str, list[dict[str, Any]]]:
    start = datetime(2026, 1, 1)
    identifies = [{"id": f"e-{i}", "anonymous_id": a, "user_id": u, "timestamp": start + timedelta(minutes=i),
                   "received_at": start + timedelta(minutes=i, seconds=1), "context_traits_email": None,
                   "context_library_name": "analytics.js"} for i, (a, u) in enumerate(IDENTIFIES)]
    return {
        "identifies_js": identifies[:5],
        "identifies_ruby": identifies[5:],
        "orders": [{"order_id": f"o-{i}", "user_id": u, "status": "completed", "ordered_at": start,
                    "revenue_usd": 12.5, "subtotal_usd": 10.0, "refund_amount_usd": None, "coupon_code": None}
                   for i, u in enumerate([ODD_USER, "u-plain", ODD_ORDER_USER])],
        "order_items": [{"order_item_id": f"oi-{i}", "order_id": f"o-{i}", "product_id": "p-1", "design_id": "d-1",
                         "quantity": 1, "unit_price_usd": 10.0} for i in range(3)],
        "products": [{"product_id": "p-1", "product_name": "Tee", "product_style": "crew", "product_color": "black",
                      "canvas_group": "apparel", "is_apparel": True}],
        "designs": [{"design_id": "d-1", "designer_id": "dz-1", "theme": "space", "theme_genre": "sci-fi"}],
    }


def connect(emu: Emulator) -> Any:
    """A connector session on the emulator, with the connection's endpoint and timeouts."""
    import snowflake.connector

    conn = emu.connection()
    extra = conn["extra"]
    return snowflake.connector.connect(
        account=extra["account"], user=conn["login"], password=conn["password"], database=extra["database"],
        schema=conn["schema"], warehouse=extra["warehouse"], role=extra["role"], host=extra["host"],
        port=extra["port"], protocol=extra["protocol"], login_timeout=extra["login_timeout"],
        network_timeout=extra["network_timeout"], socket_timeout=extra["socket_timeout"])


def load_raw_tables(emu: Emulator) -> None:
    sources = load_sources()
    with closing(connect(emu)) as conn, closing(conn.cursor()) as cur:
        cur.execute(f"create database if not exists {emu.connection()['extra']['database']}")
        cur.execute("create schema if not exists raw")
        for name, rows in raw_rows().items():
            columns = sources[name].columns
            ddl = ", ".join(f'"{c.name.upper()}" {SNOWFLAKE_TYPES[c.type]}' for c in columns)
            cur.execute(f"create or replace table raw.{name} ({ddl}, _file_name varchar, _row_number number(38,0), "
                        "_run_id varchar, _loaded_at timestamp_ntz)")
            names = [c.name for c in columns]
            cur.executemany(
                f"insert into raw.{name} values ({', '.join(['%s'] * (len(names) + 4))})",
                [(*(row[n] for n in names), f"{name}.csv", i + 1, "load-1", datetime(2026, 1, 2))
                 for i, row in enumerate(rows)])
        # The ids reach the warehouse unchanged, so anything altered later is the models' doing.
        cur.execute("select anonymous_id, user_id from raw.identifies_js union all "
                    "select anonymous_id, user_id from raw.identifies_ruby")
        assert sorted(cur.fetchall(), key=repr) == sorted(IDENTIFIES, key=repr)


PROBE_MODEL = """{#- Test-only: fails when run, with a message full of quotes and backslashes. -#}
{%- if execute -%}
    {{ exceptions.raise_compiler_error(env_var('C360_TEST_PROBE_MESSAGE')) }}
{%- endif -%}
select 1 as probe
"""


def copy_project(dest: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "dbt", dest, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for layer in ("marts", "analytics"):  # not under test; other layers' edits cannot break this test
        shutil.rmtree(dest / "models" / layer, ignore_errors=True)
    (dest / "models" / "literal_probe").mkdir()
    (dest / "models" / "literal_probe" / "literal_probe.sql").write_text(PROBE_MODEL)
    return dest


def write_profile(emu: Emulator, profiles_dir: Path) -> Path:
    """profiles.yml for dbt-snowflake from the emulator's Airflow connection, with the endpoint taken
    from its extras as the DAG's profile mapping does (include/orchestration/dbt_profiles.py)."""
    conn = emu.connection()
    extra = conn["extra"]
    output = {
        "type": "snowflake", "account": extra["account"], "user": conn["login"], "password": conn["password"],
        "database": extra["database"], "warehouse": extra["warehouse"], "role": extra["role"],
        "schema": conn["schema"], "host": extra["host"], "port": extra["port"], "protocol": extra["protocol"],
        "threads": 1, "connect_timeout": extra["login_timeout"], "connect_retries": 0,
    }
    profiles_dir.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: no quoting rules to get wrong.
    (profiles_dir / "profiles.yml").write_text(json.dumps({"c360": {"target": "prod", "outputs": {"prod": output}}}))
    return profiles_dir


def dbt(project: Path, profiles: Path, *args: str) -> subprocess.CompletedProcess:
    started = time.monotonic()
    env = {
        **os.environ,
        "C360_AIRFLOW_RUN_ID": RUN_ID,
        "C360_TEST_PROBE_MESSAGE": PROBE_MESSAGE,
        "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_PARTIAL_PARSE": "False",
    }
    cmd = ["timeout", "-k", "10", str(DBT_TIMEOUT), str(DBT), *args, "--project-dir", str(project),
           "--profiles-dir", str(profiles), "--target", "prod", "--log-path", str(project / "logs"),
           "--vars", json.dumps({"stitch_bot_id_patterns": BOT_PATTERNS})]
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=DBT_TIMEOUT + 30)
    proc.seconds = round(time.monotonic() - started, 1)  # for the failure messages
    return proc


def query(emu: Emulator, sql: str) -> list[tuple]:
    with closing(connect(emu)) as conn, closing(conn.cursor()) as cur:
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture(scope="module")
def built(snowflake_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("sql_literals_snowflake")
    emu = replace(snowflake_emulator, database="c360_literals")  # a database of the module's own
    load_raw_tables(emu)
    project = copy_project(work / "dbt")
    profiles = write_profile(emu, work / "profiles")
    build = dbt(project, profiles, "build", "--select", "staging", "+path:models/stitching")
    # After a hung build (killed by timeout: 124) the probe would only hang as well.
    probe = dbt(project, profiles, "run", "--select", "literal_probe") if build.returncode != 124 else build
    yield {"emu": emu, "build": build, "probe": probe}


def _output(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode} after {proc.seconds} s\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"


def test_staging_and_stitching_build_on_snowflake_without_an_error(built) -> None:
    assert built["build"].returncode == 0, _output(built["build"])
    assert "ERROR=0" in built["build"].stdout, _output(built["build"])


def test_the_run_id_is_recorded_exactly_in_audit_dbt_results(built) -> None:
    rows = query(built["emu"], "select airflow_run_id, node_name, status from audit.dbt_results")
    assert len(rows) > 20, rows
    assert {r[0] for r in rows} == {RUN_ID}, rows[:5]
    assert {"user_id_stitcher", "int_id_components", "excluded_ids"} <= {r[1] for r in rows}


def test_a_dbt_message_with_quotes_and_backslashes_is_recorded_exactly(built) -> None:
    assert built["probe"].returncode == 1, _output(built["probe"])  # the probe model fails, as it should
    rows = query(built["emu"], "select airflow_run_id, status, message from audit.dbt_results "
                               "where node_name = 'literal_probe'")
    assert len(rows) == 1, (rows, _output(built["probe"]))
    (run_id, status, message), = rows
    assert (run_id, status) == (RUN_ID, "error")
    assert PROBE_MESSAGE in message, message


def test_the_round_log_and_cluster_health_carry_the_run_id_exactly(built) -> None:
    rounds = query(built["emu"], "select airflow_run_id, model_name, converged from stitching.stitch_runs")
    assert rounds and {r[0] for r in rounds} == {RUN_ID}, rounds
    assert {r[1] for r in rounds} == {"int_id_components"} and all(r[2] for r in rounds), rounds
    health = query(built["emu"], "select airflow_run_id from stitching.stitch_cluster_health")
    assert health and {r[0] for r in health} == {RUN_ID}, health


def test_ids_with_quotes_and_backslashes_reach_the_stitcher_unchanged(built) -> None:
    rows = query(built["emu"], "select user_main_id, other_id, other_id_type from stitching.user_id_stitcher")
    ids = {(r[1], r[2]) for r in rows}
    for expected in [(ODD_USER, "user_id"), (ODD_ANON, "anonymous_id"), (ODD_ORDER_USER, "user_id"),
                     ("u-plain", "user_id"), ("anon-1", "anonymous_id")]:
        assert expected in ids, sorted(ids)
    profile = {r[1]: r[0] for r in rows}
    # a\b'c links anon-1, u-plain and anon\'2\\x into one profile
    assert profile[ODD_USER] == profile["u-plain"] == profile["anon-1"] == profile[ODD_ANON]
    assert profile[ODD_ORDER_USER] != profile[ODD_USER]


def test_bot_patterns_with_backslashes_and_quotes_match_and_are_named_exactly(built) -> None:
    rows = query(built["emu"], "select other_id, other_id_type, reason, detail from stitching.excluded_ids")
    details = {r[0]: r[3] for r in rows}
    assert details.get("#{anonymousId}") == "matches ^#\\{", rows
    assert details.get("${anonymousId}") == "matches ^\\$\\{", rows
    assert details.get(QUOTE_BOT) == "matches ^o'bot\\d+$", rows
    stitched = {r[0] for r in query(built["emu"], "select other_id from stitching.user_id_stitcher")}
    assert not stitched & {"#{anonymousId}", "${anonymousId}", QUOTE_BOT}
