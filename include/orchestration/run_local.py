"""`make run`: run customer_360 end to end with `airflow dags test` and print what it produced."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from include import settings
from include.warehouse.db import Db

AIRFLOW = str(Path(sys.executable).parent / "airflow")

# The contract tables (include/contracts/outputs.yml) and the other tables people read first.
SUMMARY_TABLES = (
    "raw.orders",
    "raw.identifies_js",
    "raw.identifies_ruby",
    "stitching.user_id_stitcher",
    "stitching.excluded_ids",
    "marts.with_user_id",
    "stitching.user_main_id_changes",
    "audit.load_batches",
    "audit.rejected_rows",
    "audit.dq_gate_results",
)


def latest_run() -> dict:
    out = subprocess.run(
        [AIRFLOW, "dags", "list-runs", "customer_360", "-o", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    runs = json.loads(next(line for line in out.splitlines() if line.startswith("[")))
    return max(runs, key=lambda r: r.get("start_date") or "")


def summary(run_id: str) -> str:
    """Rows per table and the run's gate verdict, read from the deployment's warehouse (either target)."""
    from include.warehouse import connect_warehouse, warehouse_location

    lines = [f"warehouse: {warehouse_location()}", "", "rows per table:"]
    with connect_warehouse(read_only=True) as db:
        existing = db.tables()
        for table in SUMMARY_TABLES:
            count = db.scalar(f"select count(*) from {table}") if table in existing else "missing"
            lines.append(f"  {table:<32} {count}")
        if "load_action" in db.columns("audit.load_batches"):
            read = db.scalar("select count(*) from audit.load_batches where run_id = ?", (run_id,))
            current = db.scalar("select count(*) from audit.load_batches where is_current")
            lines.append(f"  (landing files: {current} loaded in all, {read} read by this run; the others unchanged)")
        if "audit.dq_gate_results" in existing:
            checks = db.rows(
                "select status, check_name, observed_value, threshold from audit.dq_gate_results "
                "where run_id = ? order by check_name", (run_id,))
            statuses = {c[0] for c in checks}
            verdict = "none (gate did not run)" if not checks else (
                "FAIL" if "fail" in statuses else "WARN" if "warn" in statuses else "PASS")
            lines += ["", f"gate verdict for {run_id}: {verdict}"]
            lines += [f"  {s:<5} {name:<40} {obs if obs is not None else '':<12} {thr}" for s, name, obs, thr in checks]
        lines += ["", publication(db, run_id)]
    return "\n".join(lines)


class BadConf(ValueError):
    """The run's conf is refused before anything runs."""


def publication(db: Db, run_id: str) -> str:
    """Which run readers see: this one, or (its gate failed) the one before."""
    from include.publishing.build import published_build, run_build

    published = published_build(db)
    if published is None:
        return "published: nothing yet; the contract names do not exist until a gate passes"
    try:
        run_build(db, run_id)
    except LookupError:
        return (f"nothing new: run {published.run_id}'s published {published.colour} build was made from the same "
                "landing files, dbt project and parameters; this run built nothing (full_refresh=true forces a build)")
    if published.run_id == run_id:
        return f"published: this run ({published.colour} build); the contract tables above are its rows"
    return (f"NOT published: readers remain on {published.run_id} ({published.colour} build, published "
            f"{published.published_at:%Y-%m-%d %H:%M} UTC); the contract tables above are its rows")


def validated_conf(conf_json: str, num_customers: int) -> dict:
    """The run's conf, checked by the DAG's own param schemas (what the trigger form and the API apply),
    so a bad value is refused before Airflow creates a run or any task writes."""
    from airflow.sdk.definitions.param import ParamsDict

    from include.orchestration.params import dag_params

    try:
        conf = json.loads(conf_json or "{}")
    except json.JSONDecodeError as exc:
        raise BadConf(f"CONF is not JSON ({exc}): {conf_json!r}") from exc
    if not isinstance(conf, dict):
        raise BadConf(f"CONF must be a JSON object of DAG params, got {conf_json!r}")
    params = dag_params()
    unknown = sorted(set(conf) - set(params))
    if unknown:
        raise BadConf(f"unknown DAG param(s) {', '.join(unknown)}; customer_360 takes: {', '.join(params)}")
    conf = {"num_customers": num_customers, **conf}
    checked = ParamsDict(params)
    try:
        checked.update(conf)
        checked.validate()
    except Exception as exc:  # ParamValidationError: the schema's own message
        raise BadConf(str(exc)) from exc
    return conf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-customers", type=int, default=500)
    parser.add_argument("--conf", default="", help="DAG params as a JSON object, e.g. '{\"full_refresh\": true}'")
    parser.add_argument("--emulator", type=Path, metavar="DIR",
                        help="build the Snowflake target on a local Snowflake emulator keeping its databases in DIR")
    args = parser.parse_args()
    if args.emulator:
        # Before the params are checked: the DAG's `target` param accepts only the deployed target.
        os.environ["C360_TARGET"] = "snowflake"
        # The emulator runs one statement at a time; more dbt threads would only queue.
        os.environ.setdefault("C360_SNOWFLAKE_THREADS", "1")
    try:
        conf = validated_conf(args.conf, args.num_customers)
    except BadConf as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        if args.emulator:
            from include.warehouse.emulator import serve

            emulator = stack.enter_context(serve(args.emulator))
            os.environ.update(emulator.connection_env(settings.snowflake_conn_id()))
            print(f"Snowflake emulator on {emulator.host}:{emulator.port}, databases in {args.emulator}", flush=True)
        return run(conf)


def run(conf: dict) -> int:
    source_dir = settings.default_source_dir()
    print(f"customer_360 on {settings.target_name()}: source_dir={source_dir or '(synthetic)'} conf={json.dumps(conf)}",
          flush=True)
    started = time.monotonic()
    code = subprocess.run([AIRFLOW, "dags", "test", "customer_360", "-c", json.dumps(conf)], env=os.environ).returncode
    elapsed = time.monotonic() - started
    dag_run = latest_run()
    print(f"\nrun {dag_run['run_id']}: {dag_run['state']} in {elapsed:.0f} s (airflow dags test exit code {code})")
    print(summary(dag_run["run_id"]))
    return 0 if dag_run["state"] == "success" and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
