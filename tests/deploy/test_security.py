"""Security: no credential in the repository or in a run's logs, and run params that carry SQL are refused
or inert. (The review page refusing unauthenticated requests is tested in tests/plugins/test_review_page.py.)

The repository scan uses detect-secrets with the audited baseline .secrets.baseline: every finding in
it is a test fixture's fake value or a field name, marked is_secret=false. A new finding fails the test;
if it is a false positive, audit it (`detect-secrets scan --baseline .secrets.baseline` then
`detect-secrets audit .secrets.baseline`).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, airflow_env, fresh_airflow_home, run_dag

BASELINE = PROJECT_ROOT / ".secrets.baseline"
SQL_PAYLOAD = "x'; drop table stitching.user_id_stitcher; --"


def repo_files() -> list[str]:
    """Tracked files and new files not ignored by git: what a commit or a Docker build can carry."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    # The baseline holds the hashes of audited findings, which look like secrets themselves.
    return [f for f in listed if (PROJECT_ROOT / f).is_file() and f != BASELINE.name]


def scan(root: Path, files: list[str]) -> dict[str, list[tuple[str, int]]]:
    """Findings of detect-secrets (the baseline's plugins and filters) not in the baseline, by file."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import transient_settings

    baseline = json.loads(BASELINE.read_text())
    known = {(name, s["hashed_secret"], s["type"]) for name, items in baseline["results"].items() for s in items}
    with transient_settings(baseline):
        found = SecretsCollection()
        found.scan_files(*(str(root / f) for f in files), num_processors=1)
    new: dict[str, list[tuple[str, int]]] = {}
    for _, secret in found:
        name = str(Path(secret.filename).relative_to(root))
        if (name, secret.secret_hash, secret.type) not in known:
            new.setdefault(name, []).append((secret.type, secret.line_number))
    return new


def test_the_baseline_holds_only_audited_false_positives() -> None:
    baseline = json.loads(BASELINE.read_text())
    unaudited = [(f, s["type"], s["line_number"]) for f, items in baseline["results"].items() for s in items
                 if s.get("is_secret") is not False]
    assert not unaudited, unaudited


def test_the_repository_and_docker_files_hold_no_credential() -> None:
    files = repo_files()
    assert {"Dockerfile", "docker-compose.yaml", "requirements.txt", "dbt/profiles.yml"} <= set(files)
    assert not scan(PROJECT_ROOT, files)


def test_the_scan_finds_a_planted_credential(tmp_path: Path) -> None:
    # The same scan on a copy of a real file with one credential added: the scan is not blind.
    planted = tmp_path / "docker-compose.yaml"
    planted.write_text((PROJECT_ROOT / "docker-compose.yaml").read_text()
                       + "\n    SNOWFLAKE_PASSWORD: 'Zq8#vT2!pL9mRw4x'\n")  # pragma: allowlist secret
    found = scan(tmp_path, ["docker-compose.yaml"])
    assert [t for t, _ in found["docker-compose.yaml"]] == ["Secret Keyword"], found


# --- params that carry SQL ----------------------------------------------------------------------------


def _dag(dag_file: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / dag_file))
    assert not bag.import_errors, bag.import_errors
    return next(iter(bag.dags.values()))


def _refusal(dag, conf: dict) -> str | None:
    """The message Airflow refuses the run conf with (trigger form, REST API, `dags test -c`), or None."""
    from airflow.sdk.definitions.param import ParamsDict

    params = ParamsDict(dag.params)
    try:
        for key, value in conf.items():
            params[key] = value
        params.validate()
    except (ValueError, TypeError) as exc:  # ParamValidationError is a ValueError
        return str(exc)
    return None


@pytest.mark.parametrize("param", ["num_customers", "seed", "target", "full_refresh", "reference_date",
                                   "stitch_max_user_ids_per_anonymous_id", "stitch_max_anonymous_ids_per_user_id"])
def test_customer_360_refuses_sql_in_every_typed_param(param: str) -> None:
    dag = _dag("customer_360.py")
    assert _refusal(dag, {}) is None
    for payload in (SQL_PAYLOAD, f"2026-01-01'; {SQL_PAYLOAD}"):
        refused = _refusal(dag, {param: payload})
        assert refused and param in refused, (param, payload, refused)


def test_the_free_text_param_is_a_path_and_sql_in_it_is_inert() -> None:
    """source_dir is the only free-text param: it is used as a directory name, never in SQL."""
    from include.loading.landing import prepare_landing

    dag = _dag("customer_360.py")
    assert _refusal(dag, {"source_dir": SQL_PAYLOAD}) is None
    with pytest.raises(FileNotFoundError, match=f"source_dir {re.escape(SQL_PAYLOAD)} does not exist"):
        prepare_landing(SQL_PAYLOAD, 10, 1)


def test_dbt_refuses_a_reference_date_that_is_not_a_date(tmp_path: Path) -> None:
    """Second line of defence: the dbt macro pastes the date into SQL only after matching YYYY-MM-DD."""
    from tests.support.fault_helpers import dbt

    env = airflow_env(tmp_path, tmp_path / "w.duckdb", C360_FAULTS_TARGET=str(tmp_path / "target"))
    proc = subprocess.run(dbt(env, "compile", "--select", "with_user_id", "--vars",
                              json.dumps({"reference_date": f"2026-01-01'::date; {SQL_PAYLOAD}"})),
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "var reference_date must be 'YYYY-MM-DD', got '2026-01-01'::date; x'; drop table" in proc.stdout, (
        proc.stdout[-3000:])


def test_the_investigation_refuses_sql_in_its_typed_params() -> None:
    dag = _dag("stitching_investigation.py")
    for conf in ({"user_main_id": SQL_PAYLOAD}, {"id_type": SQL_PAYLOAD}, {"id": "x" * 513}):
        refused = _refusal(dag, conf)
        assert refused and next(iter(conf)) in refused, (conf, refused)
    assert _refusal(dag, {"id": SQL_PAYLOAD}) is None  # an id may hold any character; it is bound


@pytest.fixture
def graph(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A profile whose ids hold SQL and LIKE wildcards, as the sources may (the loader stores them verbatim)."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema stitching; create schema staging")
    con.execute("create table staging.stg_rudderstack__identifies (source_sdk varchar, event_id varchar, "
                "event_at timestamp, anonymous_id varchar, user_id varchar, landed_file_name varchar, "
                "landed_row_number bigint)")
    con.execute("insert into staging.stg_rudderstack__identifies values "
                "('js', 'e1', timestamp '2026-10-01', 'device%_1', ?, 'part-0.csv', 1)", [SQL_PAYLOAD])
    con.execute("create table stitching.user_id_stitcher (user_main_id varchar, other_id varchar, "
                "other_id_type varchar)")
    con.executemany("insert into stitching.user_id_stitcher values (?, ?, ?)",
                    [("a" * 32, SQL_PAYLOAD, "user_id"), ("a" * 32, "device%_1", "anonymous_id"),
                     ("b" * 32, "other", "user_id")])
    con.execute("create table stitching.excluded_ids (other_id varchar, other_id_type varchar, reason varchar, "
                "detail varchar)")
    yield con
    con.close()


def test_the_investigation_binds_an_sql_looking_id(graph: duckdb.DuckDBPyConnection) -> None:
    from include.oncall.investigation import InvestigationError, investigate

    report = investigate(graph, SQL_PAYLOAD, "user_id")
    assert report.user_main_id == "a" * 32 and len(report.members) == 2 and len(report.events) == 1
    # Wildcards and quotes match nothing but themselves.
    for probe in ("%", "device%", "x'", "' or '1'='1"):
        with pytest.raises(InvestigationError, match=r"is not in stitching\.user_id_stitcher"):
            investigate(graph, probe)
    with pytest.raises(InvestigationError, match="is not a 32-character lower-case md5"):
        investigate(graph, user_main_id=f"{'a' * 32}' or '1'='1")
    assert graph.execute("select count(*) from stitching.user_id_stitcher").fetchone()[0] == 3


# --- configured secrets never reach a run's logs --------------------------------------------------------

SENTINEL = "c360-sentinel-Zq8vT2pL9mRw4x"  # pragma: allowlist secret


@pytest.mark.slow
def test_a_run_logs_no_configured_secret(tmp_path: Path) -> None:
    """customer_360 with every credential the deployment knows set to a sentinel: the Snowflake connection
    and dbt's Snowflake password, the alert SMTP and Slack connections, the API's JWT secret. The run goes
    through prepare, the loads, the staging layer's Cosmos dbt tasks, the gate (which fails on the
    partial warehouse) and its alerts (SMTP to a closed port fails); other tasks are marked success.
    Nothing under the Airflow home (task logs, metadata DB), in the process output or in the warehouse's
    audit tables may hold the sentinel."""
    from include.synthetic import generate

    home = fresh_airflow_home(tmp_path / "airflow")
    warehouse = tmp_path / "w.duckdb"
    env = airflow_env(
        home, warehouse,
        SNOWFLAKE_PASSWORD=SENTINEL,
        AIRFLOW_CONN_SNOWFLAKE_DEFAULT=json.dumps({
            "conn_type": "snowflake", "login": "svc", "password": SENTINEL, "schema": "PUBLIC",
            "extra": {"account": "acct", "database": "C360", "warehouse": "WH", "role": "R"}}),
        AIRFLOW_CONN_C360_ALERTS_SMTP=json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": 9, "login": "alerts", "password": SENTINEL,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "a@c360.test", "to": "o@c360.test",
                      "timeout": 2, "retry_limit": 0}}),
        AIRFLOW_CONN_C360_ALERTS_SLACK=json.dumps({
            "conn_type": "slackwebhook", "password": f"https://127.0.0.1:9/services/{SENTINEL}"}),
        AIRFLOW__API_AUTH__JWT_SECRET=SENTINEL,
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
    )
    keep = r"prepare_sources|load_sources\..*|staging\..*|dq_gate"
    landing = tmp_path / "landing"
    generate(landing, num_customers=10, seed=3)
    result = run_dag(env, {"source_dir": str(landing)}, timeout=900,
                     logical_date="2026-11-01",
                     extra_args=("--mark-success-pattern", rf"^(?!({keep})$).*"))
    output = result.output
    ran = {t: s for t, s in result.task_states.items() if re.fullmatch(keep, t)}
    assert ran.pop("dq_gate") == "failed", (ran, output[-5000:])
    assert set(ran.values()) == {"success"}, (ran, output[-5000:])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        alerts = con.execute("select * from audit.alerts").fetchall()
        dbt_results = con.execute("select * from audit.dbt_results").fetchall()
    recorded = json.dumps([alerts, dbt_results], default=str)
    assert dbt_results, "no dbt result: the dbt path was not exercised"
    assert alerts, "the gate's failure raised no alert: the notifier path was not exercised"
    leaks = [str(p) for p in home.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()]
    leaks += [line[:300] for text in (output, recorded) for line in text.splitlines() if SENTINEL in line]
    assert not leaks, leaks

