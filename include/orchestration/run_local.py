"""`make run`: run customer_360 end to end with `airflow dags test` and print what it produced."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from include import settings
from include.warehouse.duckdb_file import connect

AIRFLOW = str(Path(sys.executable).parent / "airflow")

# The contract tables (include/contracts/outputs.yml) and the other tables people read first.
SUMMARY_TABLES = (
    "raw.orders",
    "raw.identifies_js",
    "raw.identifies_ruby",
    "stitching.user_id_stitcher",
    "stitching.excluded_ids",
    "marts.with_user_id",
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
    lines = [f"warehouse: {settings.duckdb_path()}", "", "rows per table:"]
    with connect(read_only=True) as con:
        existing = {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall()}
        for table in SUMMARY_TABLES:
            count = con.execute(f"select count(*) from {table}").fetchone()[0] if table in existing else "missing"
            lines.append(f"  {table:<32} {count}")
        if "audit.dq_gate_results" in existing:
            checks = con.execute(
                "select status, check_name, observed_value, threshold from audit.dq_gate_results "
                "where run_id = $run order by check_name", {"run": run_id}).fetchall()
            statuses = {c[0] for c in checks}
            verdict = "none (gate did not run)" if not checks else (
                "FAIL" if "fail" in statuses else "WARN" if "warn" in statuses else "PASS")
            lines += ["", f"gate verdict for {run_id}: {verdict}"]
            lines += [f"  {s:<5} {name:<40} {obs if obs is not None else '':<12} {thr}" for s, name, obs, thr in checks]
    return "\n".join(lines)


class BadConf(ValueError):
    """The run's conf is refused before anything runs."""


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
    args = parser.parse_args()
    try:
        conf = validated_conf(args.conf, args.num_customers)
    except BadConf as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    source_dir = settings.default_source_dir()
    print(f"customer_360 on DuckDB: source_dir={source_dir or '(synthetic)'} conf={json.dumps(conf)}", flush=True)
    started = time.monotonic()
    code = subprocess.run([AIRFLOW, "dags", "test", "customer_360", "-c", json.dumps(conf)], env=os.environ).returncode
    elapsed = time.monotonic() - started
    run = latest_run()
    print(f"\nrun {run['run_id']}: {run['state']} in {elapsed:.0f} s (airflow dags test exit code {code})")
    print(summary(run["run_id"]))
    return 0 if run["state"] == "success" and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
