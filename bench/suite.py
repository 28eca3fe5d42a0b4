"""The benchmark suite: every stage of customer_360 at several sizes, measured in the same run.

    python -m bench [--sizes 2000,10000,50000] [--seed 42] [--scenarios load,dbt,dag,stitching,parse,incremental]
                    [--formats parquet,csv] [--workdir /tmp/c360_bench] [--results-dir bench/results] [--plot]

Per size it generates (or reuses, keyed by customers, seed and format) landing data with
include.synthetic, then measures:

- parse:     DAG parse (size-independent, once): import of dags/customer_360.py after Airflow is
             imported, and a whole DagBag of dags/, each in a fresh interpreter; baseline 0.5 s;
- load:      include.loading.duckdb_loader.load_all into a fresh DuckDB file per format; baseline 1M rows/s;
- dbt:       a plain `dbt build` of the whole project on the parquet-loaded warehouse (dbtRunner);
             the five slowest models come from its run_results.json;
- dag:       `airflow dags test customer_360` on the same landing data into a fresh warehouse, with
             a private copy of the Airflow metadata DB and Cosmos cache; ratio vs load(parquet) + dbt
             is the orchestration overhead (target <= 1.3), cpu_ratio the same in CPU seconds;
- stitching: scipy connected_components (bench.stitching.scipy_components) on the very links the
             dbt build staged, vs the core stitching models' seconds of that build;
- incremental (only when named, it costs four DAG runs): a DAG run into a fresh warehouse; a day of
             synthetic data (include/synthetic/days.py) added to the same landing folder and a run that
             builds the other blue/green colour; another day and the measured run, into the first run's
             colour (ratios vs the first); then a full_refresh run of that folder into a fresh warehouse
             whose contract tables must hash the same as the measured run's.

Every measured step runs in its own child process, reaped with os.wait4 by a tiny wrapper (see
_measure), so its peak RSS is that step's own, including its reaped descendants (e.g. task processes
of `airflow dags test`): getrusage(RUSAGE_CHILDREN) here would give only the running maximum over all
children. load_avg is the 1-minute load average when the step ended: the figures are wall clock;
cpu_s (user + system, descendants included) is what a step costs on a machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from include.orchestration.pipeline_config import LAYER_ORDER

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAG_FILE = PROJECT_ROOT / "dags" / "customer_360.py"
DEFAULT_RESULTS = PROJECT_ROOT / "bench" / "results"
SCENARIOS = ("parse", "load", "dbt", "dag", "stitching", "incremental")
# What `--scenarios` defaults to: incremental costs four whole DAG runs per size, so it is asked for.
DEFAULT_SCENARIOS = SCENARIOS[:5]
# Issue 7's targets, used as the baselines of the scenarios that have no in-run baseline.
PARSE_TARGET_S = 0.5
LOAD_TARGET_ROWS_PER_S = 1_000_000
DAG_OVERHEAD_TARGET = 1.3


# --- child processes ---------------------------------------------------------------------------------


# Peak RSS is read in a tiny wrapper interpreter that starts the measured command and reaps it with
# os.wait4. Why not straight from this process: Linux carries the parent's high-water RSS into a
# (v)forked child across exec, so every child of a parent that holds generated data in memory would
# report at least the parent's peak (measured: a 500 MB parent makes `python -c pass` show 510 MB;
# through the wrapper, 10 MB). The wrapper's own ~10 MB is the floor of every figure here.
_WRAPPER = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"maxrss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime,
               "returncode": os.waitstatus_to_exitcode(status)}, out)
sys.exit(0)
"""


def _measure(cmd: list[str], env: dict[str, str], log: Path, timeout: float) -> dict[str, Any]:
    """Run cmd; returns wall seconds, CPU seconds and peak RSS (MiB), both incl. reaped descendants,
    exit code and the last JSON line of its stdout."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out_path, usage_path = log.with_suffix(".out"), log.with_suffix(".rusage.json")
    usage_path.unlink(missing_ok=True)
    started = time.perf_counter()
    with out_path.open("w") as out, log.open("w") as err:
        # A session of its own, so a timeout can end the command with all its children.
        proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, str(usage_path), *cmd], cwd=PROJECT_ROOT,
                                env=env, stdout=out, stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError(f"{cmd[:4]} timed out after {timeout:.0f}s; log: {log}") from None
    wall = time.perf_counter() - started
    usage = (json.loads(usage_path.read_text()) if usage_path.exists()
             else {"maxrss_kb": 0, "cpu_s": 0.0, "returncode": -1})
    payload: dict[str, Any] = {}
    for line in reversed(out_path.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                payload = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
    # ru_maxrss is in KiB on Linux.
    return {"wall_s": wall, "cpu_s": usage["cpu_s"], "peak_rss_mb": usage["maxrss_kb"] / 1024,
            "returncode": usage["returncode"], "payload": payload, "log": str(log), "stdout": str(out_path)}


def _child_cmd(step: str, **kwargs: Any) -> list[str]:
    return [sys.executable, "-m", "bench", "--child", step, "--child-args", json.dumps(kwargs)]


def _base_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
    # as `make bench` does: offline, Cosmos' usage report fails after a DNS lookup in every task
    env.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    env.update(extra)
    return env


def _airflow_env(airflow_home: Path, **extra: str) -> dict[str, str]:
    # The same environment tests/conftest.py gives `airflow dags test`.
    return _base_env(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(PROJECT_ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        # Cosmos keeps dbt's partial-parse file per task group here; the shared default (/tmp/cosmos)
        # would hand this run the files of whoever else ran the DAG on the machine.
        AIRFLOW__COSMOS__CACHE_DIR=str(airflow_home / "cosmos_cache"),
        C360_SOURCE_DIR="",
        **extra,
    )


def child_parse(mode: str) -> dict[str, Any]:
    """Time `import airflow`, then either the DAG file's import or a whole DagBag of dags/."""
    started = time.perf_counter()
    import airflow  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag

    airflow_s = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    if mode == "dag_file":
        spec = importlib.util.spec_from_file_location("customer_360_bench", DAG_FILE)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tasks = len(module.dag.tasks)
        errors: dict = {}
    else:
        bag = DagBag(dag_folder=str(DAG_FILE.parent))
        tasks = sum(len(d.tasks) for d in bag.dags.values())
        errors = {k: str(v)[:500] for k, v in bag.import_errors.items()}
    return {"seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu_started,
            "airflow_import_s": airflow_s, "tasks": tasks, "errors": errors}


def child_load(landing: str, warehouse: str, run_id: str) -> dict[str, Any]:
    import duckdb

    from include.loading.duckdb_loader import load_all

    started = time.perf_counter()
    with duckdb.connect(warehouse) as con:
        results = load_all(con, Path(landing), run_id=run_id)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_read": sum(r.rows_read for r in results),
            "rows_loaded": sum(r.rows_loaded for r in results),
            "rows_rejected": sum(r.rows_rejected for r in results), "files": len(results)}


def child_dbt(warehouse: str, target: str, reference_date: str) -> dict[str, Any]:
    from dbt.cli.main import dbtRunner

    dbt_dir = PROJECT_ROOT / "dbt"
    os.environ["C360_DUCKDB_PATH"] = warehouse
    os.environ["C360_DBT_TARGET"] = "dev"
    started = time.perf_counter()
    result = dbtRunner().invoke([
        "build", "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir),
        "--target-path", target, "--log-path", str(Path(target) / "logs"),
        "--vars", json.dumps({"reference_date": reference_date}), "--quiet",
        "--no-send-anonymous-usage-stats",
    ])
    seconds = time.perf_counter() - started
    failed = []
    if result.result is not None and hasattr(result.result, "results"):
        # warn-severity tests are expected on synthetic data (the gate counts them); only errors fail.
        failed = [r.node.name for r in result.result.results if str(r.status) in ("error", "fail")]
    return {"seconds": seconds, "success": bool(result.success), "failed": failed[:20],
            "exception": str(result.exception) if result.exception else None}


def child_scipy(warehouse: str) -> dict[str, Any]:
    from bench.stitching import scipy_components

    return scipy_components(Path(warehouse))


def run_child(step: str, kwargs: dict[str, Any]) -> None:
    fn = {"parse": child_parse, "load": child_load, "dbt": child_dbt, "scipy": child_scipy}[step]
    print(json.dumps(fn(**kwargs)), flush=True)


# --- scenarios -----------------------------------------------------------------------------------------


def _row(scenario: str, size: int | None, seconds: float, peak_rss_mb: float | None = None,
         rows: int | None = None, ratio: float | None = None, baseline: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "scenario": scenario, "size": size, "seconds": round(seconds, 3),
        "peak_rss_mb": None if peak_rss_mb is None else round(peak_rss_mb, 1),
        "rows": rows, "rows_per_s": round(rows / seconds) if rows and seconds > 0 else None,
        "ratio": None if ratio is None else round(ratio, 3), "baseline": baseline,
        "load_avg": round(os.getloadavg()[0], 2), **extra,
    }


def _check(result: dict[str, Any], what: str) -> dict[str, Any]:
    if result["returncode"] != 0 or not result["payload"]:
        tail = Path(result["log"]).read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{what} failed (exit {result['returncode']}); log {result['log']}:\n{tail}")
    return result["payload"]


def scenario_parse(workdir: Path, airflow_home: Path) -> list[dict[str, Any]]:
    rows = []
    for mode in ("dag_file", "dagbag"):
        # A fresh interpreter per mode: the DagBag would otherwise reuse the modules the first import cached.
        result = _measure(_child_cmd("parse", mode=mode), _airflow_env(airflow_home),
                          workdir / "logs" / f"parse_{mode}.log", timeout=300)
        payload = _check(result, f"parse {mode}")
        if payload["errors"]:
            raise RuntimeError(f"DagBag import errors: {payload['errors']}")
        rows.append(_row(f"parse.{mode}", None, payload["seconds"], result["peak_rss_mb"],
                         ratio=payload["seconds"] / PARSE_TARGET_S, baseline=f"target {PARSE_TARGET_S}s",
                         airflow_import_s=round(payload["airflow_import_s"], 3), tasks=payload["tasks"],
                         cpu_s=round(payload["cpu_s"], 3)))
    return rows


def _fresh(path: Path) -> Path:
    for stale in (path, Path(f"{path}.wal")):
        stale.unlink(missing_ok=True)
    return path


def scenario_load(landing: Path, warehouse: Path, size: int, fmt: str, workdir: Path) -> dict[str, Any]:
    result = _measure(_child_cmd("load", landing=str(landing), warehouse=str(_fresh(warehouse)),
                                 run_id=f"bench_{size}_{fmt}"),
                      _base_env(), workdir / "logs" / f"load_{size}_{fmt}.log", timeout=3600)
    payload = _check(result, f"load {fmt} {size}")
    rows_per_s = payload["rows_read"] / payload["seconds"]
    return _row(f"load.{fmt}", size, payload["seconds"], result["peak_rss_mb"], rows=payload["rows_read"],
                ratio=rows_per_s / LOAD_TARGET_ROWS_PER_S, baseline="target 1M rows/s",
                rows_rejected=payload["rows_rejected"], files=payload["files"], cpu_s=round(result["cpu_s"], 2))


def scenario_dbt(warehouse: Path, target: Path, size: int, reference_date: str, workdir: Path
                 ) -> tuple[dict[str, Any], list[dict]]:
    shutil.rmtree(target, ignore_errors=True)
    result = _measure(_child_cmd("dbt", warehouse=str(warehouse), target=str(target), reference_date=reference_date),
                      _base_env(), workdir / "logs" / f"dbt_{size}.log", timeout=7200)
    payload = _check(result, f"dbt build {size}")
    if payload["failed"] or payload["exception"]:
        raise RuntimeError(f"dbt build {size} failed: {payload['failed']} {payload['exception']}")
    run_results = json.loads((target / "run_results.json").read_text())
    # wall_s counts interpreter start-up and dbt's parse too: what a user waits for; dbt's own
    # elapsed_time is the execution alone, so the difference is start-up + parse.
    return _row("dbt", size, result["wall_s"], result["peak_rss_mb"], baseline="(baseline)",
                cpu_s=round(result["cpu_s"], 2), dbt_invoke_s=round(payload["seconds"], 2),
                dbt_elapsed_s=round(run_results["elapsed_time"], 2),
                nodes=len(run_results["results"])), run_results["results"]


def scenario_dag(landing: Path, warehouse: Path, airflow_home: Path, size: int, reference_date: str,
                 workdir: Path, baseline_s: float | None, baseline_cpu_s: float | None,
                 dbt_s: float | None) -> dict[str, Any]:
    """ratio is wall seconds vs load + dbt; cpu_ratio the same in CPU seconds, which a busy machine
    (other jobs sharing the cores) inflates far less; dbt_layers_ratio is the span of the four dbt
    layers' tasks vs the plain `dbt build` alone."""
    conf = {"source_dir": str(landing), "reference_date": reference_date}
    env = _airflow_env(airflow_home, C360_DUCKDB_PATH=str(_fresh(warehouse)))
    result = _measure([str(Path(sys.executable).parent / "airflow"), "dags", "test", "customer_360",
                       "-c", json.dumps(conf)], env, workdir / "logs" / f"dag_{size}.log", timeout=7200)
    state, tasks = _latest_run(airflow_home)
    if state != "success":
        raise RuntimeError(f"customer_360 ended {state} (exit {result['returncode']}); log {result['log']}")
    layers_ratio = round(tasks["dbt_layers_s"] / dbt_s, 3) if dbt_s else None
    # The publish step's own time (views switched, history appended), as its task logs it.
    logged = "".join(Path(result[k]).read_text(errors="replace") for k in ("log", "stdout"))
    published = re.findall(r"published run \S+ in ([0-9.]+) s", logged)
    tasks["publish_s"] = float(published[-1]) if published else None
    return _row("dag", size, result["wall_s"], result["peak_rss_mb"],
                ratio=result["wall_s"] / baseline_s if baseline_s else None, dbt_layers_ratio=layers_ratio,
                baseline="load.parquet + dbt", cpu_s=round(result["cpu_s"], 2),
                cpu_ratio=round(result["cpu_s"] / baseline_cpu_s, 3) if baseline_cpu_s else None, **tasks)


def _latest_run(airflow_home: Path) -> tuple[str, dict[str, Any]]:
    """State of the newest customer_360 run and where its task time went, read straight from the
    metadata DB (an `airflow dags list-runs` would cost another Airflow start-up)."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        run_id, state = db.execute(
            "select run_id, state from dag_run where dag_id = 'customer_360' order by id desc limit 1").fetchone()
        tis = db.execute("select task_id, duration, julianday(start_date), julianday(end_date) from task_instance "
                         "where dag_id = 'customer_360' and run_id = ?", (run_id,)).fetchall()
    durations = [(t, d or 0.0) for t, d, _, _ in tis]
    # Cosmos puts a layer's tasks in the layer's group; in watcher mode its producer runs the dbt build.
    in_layers = [ti for ti in tis if ti[0].split(".", 1)[0] in LAYER_ORDER]
    dbt_tasks = [(t, d or 0.0) for t, d, _, _ in in_layers]
    # cosmos.constants.PRODUCER_WATCHER_TASK_ID; importing Cosmos here would start Airflow.
    producers = [d for t, d in dbt_tasks if t.endswith("dbt_producer_watcher")]
    # From the first layer task's start to the last one's end: the part of the run a plain `dbt build`
    # replaces, without Airflow's start-up, the loads and the gate.
    span_days = max(ti[3] for ti in in_layers) - min(ti[2] for ti in in_layers) if in_layers else 0.0
    return state, {"tasks": len(durations), "task_seconds": round(sum(d for _, d in durations), 1),
                   "dbt_task_seconds": round(sum(d for _, d in dbt_tasks), 1),
                   "dbt_producer_seconds": round(sum(producers), 1),
                   "dbt_layers_s": round(span_days * 86400, 1)}


def scenario_stitching(warehouse: Path, size: int, run_results: list[dict], workdir: Path) -> list[dict[str, Any]]:
    import duckdb

    from bench.stitching import CORE_MODELS

    with duckdb.connect(str(warehouse), read_only=True) as con:
        edges = con.execute("select count(*) from stitching.int_id_links").fetchone()[0]
    # bench.stitching.scipy_components reads the staged identifies/orders our dbt build left behind,
    # so both sides see exactly the same links. It runs under our wrapper rather than through
    # bench.stitching._child, whose self-reported RSS carries this parent's high-water mark.
    result = _measure(_child_cmd("scipy", warehouse=str(warehouse)), _base_env(),
                      workdir / "logs" / f"scipy_{size}.log", timeout=3600)
    scipy = {**_check(result, f"scipy {size}"), "peak_rss_mb": result["peak_rss_mb"]}
    core = sum(r["execution_time"] for r in run_results if r["unique_id"].split(".")[-1] in CORE_MODELS
               and r["unique_id"].startswith("model."))
    return [
        _row("stitching.scipy", size, scipy["seconds"], scipy["peak_rss_mb"], rows=edges, baseline="(baseline)",
             components_s=round(scipy["components_seconds"], 3), ids=scipy["nodes"],
             with_write_s=round(scipy["seconds_with_write"], 3)),
        _row("stitching.dbt_core", size, core, None, rows=edges, ratio=core / scipy["seconds"],
             baseline="stitching.scipy", models=list(CORE_MODELS),
             ratio_vs_scipy_with_write=round(core / scipy["seconds_with_write"], 3)),
    ]


# --- incremental: the next day into the same warehouse, checked against a full rebuild ---------------

# The contract tables the comparison hashes: the published layers' tables of include/contracts/outputs.yml
# but user_main_id_changes, the history of each warehouse's own publishes (a rebuild has one publish).
COMPARED_LAYERS = ("stitching", "marts")
NOT_COMPARED = {"stitching.user_main_id_changes"}
# Columns that carry the run that built a row or the wall clock, not the data.
VOLATILE_COLUMNS = {"run_id", "airflow_run_id", "changed_at", "built_at", "published_at", "loaded_at", "_run_id",
                    "_loaded_at"}


def _latest_run_id(airflow_home: Path) -> str | None:
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        row = db.execute("select run_id from dag_run where dag_id = 'customer_360' order by id desc limit 1").fetchone()
    return row[0] if row else None


def _dag_test(conf: dict[str, Any], warehouse: Path, airflow_home: Path, log: Path
              ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """One measured `airflow dags test customer_360` into the warehouse as it is (scenario_dag always
    starts from a fresh one): the measurement, the run's task figures (_latest_run) and its run id."""
    before = _latest_run_id(airflow_home)
    env = _airflow_env(airflow_home, C360_DUCKDB_PATH=str(warehouse))
    result = _measure([str(Path(sys.executable).parent / "airflow"), "dags", "test", "customer_360",
                       "-c", json.dumps(conf)], env, log, timeout=7200)
    state, tasks = _latest_run(airflow_home)
    run_id = _latest_run_id(airflow_home)
    # A run that never started would leave the previous run as the newest one.
    if run_id == before or state != "success":
        raise RuntimeError(f"customer_360 ended {state if run_id != before else 'without a run'} "
                           f"(exit {result['returncode']}); log {result['log']}")
    return result, tasks, run_id


def _linked_copy(source: Path, target: Path) -> Path:
    """A copy of a landing folder whose files are hard links: the next day only adds files, and the
    generator replaces a file rather than rewriting it, so the shared landing stays as it is."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:  # another file system
            shutil.copy2(src, dst)

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=link)
    return target


def _files_read(warehouse: Path, run_id: str) -> tuple[int, int]:
    """Landing files a run read and their rows (audit.load_batches holds one row per file read)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        files, rows = con.execute("select count(*), coalesce(sum(rows_read), 0) from audit.load_batches "
                                  "where run_id = ?", [run_id]).fetchone()
    return int(files), int(rows)


def compared_tables() -> list[str]:
    from include.contracts import output_tables

    return [t for t in output_tables() if t.split(".")[0] in COMPARED_LAYERS and t not in NOT_COMPARED]


def _row_hashes(warehouse: Path, folder: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Per compared table (its published view), one md5 per row into folder/<table>.parquet; returns each
    table's columns hashed and those left out (VOLATILE_COLUMNS)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    hashed = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in compared_tables():
            names = [name for name, *_ in con.execute(f"describe {table}").fetchall()]
            columns = [name for name in names if name not in VOLATILE_COLUMNS]
            row = "to_json(struct_pack(" + ", ".join(f'"{c}" := "{c}"' for c in columns) + "))::varchar"
            con.execute(f"copy (select md5({row}) as h from {table}) to '{folder / table}.parquet' (format parquet)")
            hashed[table] = (columns, [name for name in names if name in VOLATILE_COLUMNS])
    return hashed


def compare_warehouses(incremental: Path, rebuild: Path, folder: Path) -> dict[str, dict[str, Any]]:
    """Per compared table: its rows, whether both warehouses hold the same content (the same columns,
    and the same md5 of the sorted row hashes), and how many rows only one of them holds."""
    import duckdb

    columns = {side: _row_hashes(path, folder / side) for side, path in
               (("incremental", incremental), ("rebuild", rebuild))}
    out = {}
    with duckdb.connect() as con:
        for table in compared_tables():
            inc, reb = (f"read_parquet('{folder / side / table}.parquet')" for side in ("incremental", "rebuild"))
            (rows, inc_hash), (_, reb_hash) = (con.execute(
                f"select count(*), md5(coalesce(string_agg(h, '' order by h), '')) from {x}").fetchone()
                for x in (inc, reb))
            only = [con.execute(f"select count(*) from (select h from {a} except all select h from {b})").fetchone()[0]
                    for a, b in ((inc, reb), (reb, inc))]
            same_columns = columns["incremental"][table] == columns["rebuild"][table]
            out[table] = {"rows": rows, "equal": same_columns and inc_hash == reb_hash, "hash": inc_hash,
                          "only_incremental": only[0], "only_rebuild": only[1],
                          "columns": len(columns["incremental"][table][0]), "ignored": columns["incremental"][table][1]}
    return out


def scenario_incremental(base_landing: Path, workdir: Path, airflow_home: Path, size: int, reference_date: str
                         ) -> list[dict[str, Any]]:
    """Rows incremental.first (the full first run), incremental.warmup (the next day: the other build
    colour's first build), incremental (the day after, into the first run's colour, whose state is two
    runs old as every daily run's is; ratios vs the first) and incremental.rebuild (a full_refresh of the
    same folder into a fresh warehouse)."""
    from include.synthetic import next_day

    landing = _linked_copy(base_landing, workdir / f"{base_landing.name}_incremental")
    warehouse = _fresh(workdir / f"warehouse_{size}_incremental.duckdb")
    rebuild = _fresh(workdir / f"warehouse_{size}_incremental_rebuild.duckdb")
    logs = workdir / "logs"
    conf = {"source_dir": str(landing), "reference_date": reference_date}
    first, first_tasks, first_run = _dag_test(conf, warehouse, airflow_home, logs / f"incremental_{size}_first.log")
    # Blue/green: the next run builds the other colour, from scratch the first time; the run after it
    # is what every later day looks like.
    warmup_day = next_day(landing)
    warmup, warmup_tasks, warmup_run = _dag_test(conf, warehouse, airflow_home,
                                                 logs / f"incremental_{size}_warmup.log")
    started = time.perf_counter()
    day = next_day(landing)
    day_s = time.perf_counter() - started
    second, tasks, second_run = _dag_test(conf, warehouse, airflow_home, logs / f"incremental_{size}_second.log")
    third, rebuild_tasks, _ = _dag_test({**conf, "full_refresh": True}, rebuild, airflow_home,
                                        logs / f"incremental_{size}_rebuild.log")
    comparison = compare_warehouses(warehouse, rebuild, workdir / "incremental_hashes" / str(size))
    equal = all(c["equal"] for c in comparison.values())
    files_first, _ = _files_read(warehouse, first_run)
    files_warmup, _ = _files_read(warehouse, warmup_run)
    files, rows_read = _files_read(warehouse, second_run)

    def ratio(key: str, base: dict[str, Any]) -> float | None:
        return round(second[key] / base[key], 3) if base[key] else None

    rows = [
        _row("incremental.first", size, first["wall_s"], first["peak_rss_mb"], baseline="(baseline)",
             cpu_s=round(first["cpu_s"], 2), files_read=files_first, **first_tasks),
        _row("incremental.warmup", size, warmup["wall_s"], warmup["peak_rss_mb"], rows=warmup_day["total_rows"],
             ratio=warmup["wall_s"] / first["wall_s"], baseline="incremental.first",
             cpu_s=round(warmup["cpu_s"], 2), files_read=files_warmup, day=warmup_day["day"], **warmup_tasks),
        _row("incremental", size, second["wall_s"], second["peak_rss_mb"], rows=day["total_rows"],
             ratio=second["wall_s"] / first["wall_s"], baseline="incremental.first", cpu_s=round(second["cpu_s"], 2),
             cpu_ratio=ratio("cpu_s", first), rss_ratio=ratio("peak_rss_mb", first),
             dbt_layers_ratio=round(tasks["dbt_layers_s"] / first_tasks["dbt_layers_s"], 3)
             if first_tasks["dbt_layers_s"] else None,
             ratio_vs_rebuild=ratio("wall_s", third), files_read=files, rows_read=rows_read,
             day=day["day"], next_day_s=round(day_s, 2), equal_to_rebuild=equal,
             compared={t: {k: v for k, v in c.items() if k != "hash"} for t, c in comparison.items()}, **tasks),
        _row("incremental.rebuild", size, third["wall_s"], third["peak_rss_mb"], baseline="full_refresh",
             cpu_s=round(third["cpu_s"], 2), **rebuild_tasks),
    ]
    if equal:
        for path in (warehouse, rebuild):
            _fresh(path)
    else:
        rows[1]["warehouses"] = [str(warehouse), str(rebuild)]  # kept to find what differs
    return rows


def incremental_summary(row: dict[str, Any]) -> str:
    """The incremental row's figures in one line (the table above shows only wall, RSS and the ratio)."""
    return (f"incremental at {row['size']:,} customers: second run {row['seconds']:.1f} s ({row['ratio']:.2f}x the "
            f"first), cpu {row['cpu_s']:.1f} s ({row['cpu_ratio']}x), peak RSS {row['peak_rss_mb']:.0f} MB "
            f"({row['rss_ratio']}x), dbt layers {row['dbt_layers_s']} s ({row['dbt_layers_ratio']}x), "
            f"{row['files_read']} landing files read ({row['rows_read']:,} rows), {row['ratio_vs_rebuild']}x the "
            f"full_refresh rebuild; equal_to_rebuild: {str(row['equal_to_rebuild']).lower()}")


def _require_equal_to_rebuild(row: dict[str, Any]) -> None:
    print(incremental_summary(row), flush=True)
    if not row["equal_to_rebuild"]:
        differing = {t: c for t, c in row["compared"].items() if not c["equal"]}
        raise RuntimeError(f"incremental at {row['size']} customers: the warehouse built day by day differs from "
                           f"a full_refresh rebuild of the same landing folder: {differing}; warehouses kept: "
                           f"{row['warehouses']}")


# --- driver --------------------------------------------------------------------------------------------


def _private_airflow_home(workdir: Path) -> Path:
    """A copy of the project's migrated metadata DB (make setup), so bench runs never mix with the
    user's runs and no bench pays for a migration."""
    source = PROJECT_ROOT / ".airflow"
    if not (source / ".initialised").exists():
        raise SystemExit("the Airflow metadata DB is not initialised: run `make setup` (or use `make bench`)")
    home = workdir / "airflow_home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    shutil.copy2(source / "airflow.db", home / "airflow.db")
    return home


def run(sizes: list[int], seed: int, scenarios: list[str], formats: list[str], workdir: Path,
        reference_date: str) -> dict[str, Any]:
    from bench.marts import landing_for, per_model

    workdir.mkdir(parents=True, exist_ok=True)
    airflow_home = _private_airflow_home(workdir) if {"parse", "dag", "incremental"} & set(scenarios) else workdir
    rows: list[dict[str, Any]] = []
    slowest: dict[int, list] = {}
    generated: dict[str, float] = {}

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        print(_format_row(row), flush=True)

    print(_header(), flush=True)
    if "parse" in scenarios:
        for row in scenario_parse(workdir, airflow_home):
            emit(row)
    for size in sizes:
        needs_parquet = bool({"load", "dbt", "dag", "stitching", "incremental"} & set(scenarios))
        fmts = formats if "load" in scenarios else (["parquet"] if needs_parquet else [])
        landings = {}
        for fmt in dict.fromkeys([*fmts, *(["parquet"] if needs_parquet else [])]):
            landings[fmt], seconds = landing_for(workdir, size, seed, fmt)
            generated[f"{size}_{fmt}"] = round(seconds, 1)
        warehouse = workdir / f"warehouse_{size}.duckdb"
        load_parquet_s = load_parquet_cpu = None
        if "load" in scenarios:
            for fmt in fmts:
                path = warehouse if fmt == "parquet" else workdir / f"warehouse_{size}_{fmt}.duckdb"
                row = scenario_load(landings[fmt], path, size, fmt, workdir)
                emit(row)
                if fmt == "parquet":
                    load_parquet_s, load_parquet_cpu = row["seconds"], row["cpu_s"]
                else:
                    _fresh(path)
        needs_dbt = bool({"dbt", "stitching"} & set(scenarios))
        if needs_dbt and load_parquet_s is None:
            # dbt needs a loaded warehouse even when the load itself is not being reported.
            row = scenario_load(landings["parquet"], warehouse, size, "parquet", workdir)
            load_parquet_s, load_parquet_cpu = row["seconds"], row["cpu_s"]
        dbt_s = dbt_cpu = None
        if needs_dbt:
            row, run_results = scenario_dbt(warehouse, workdir / f"target_{size}", size, reference_date, workdir)
            if "dbt" in scenarios:
                emit(row)
            dbt_s, dbt_cpu = row["seconds"], row["cpu_s"]
            slowest[size] = per_model(run_results)[:5]
            if "stitching" in scenarios:
                for row in scenario_stitching(warehouse, size, run_results, workdir):
                    emit(row)
        if "dag" in scenarios:
            measured = load_parquet_s is not None and dbt_s is not None
            emit(scenario_dag(landings["parquet"], workdir / f"warehouse_{size}_dag.duckdb", airflow_home, size,
                              reference_date, workdir, load_parquet_s + dbt_s if measured else None,
                              load_parquet_cpu + dbt_cpu if measured else None, dbt_s))
            _fresh(workdir / f"warehouse_{size}_dag.duckdb")
        if "incremental" in scenarios:
            incremental = scenario_incremental(landings["parquet"], workdir, airflow_home, size, reference_date)
            for row in incremental:
                emit(row)
            _require_equal_to_rebuild(next(row for row in incremental if row["scenario"] == "incremental"))
    return {
        "started_load_avg": None, "sizes": sizes, "seed": seed, "scenarios": scenarios, "formats": formats,
        "reference_date": reference_date, "generate_seconds": generated, "rows": rows,
        "slowest_models": {str(k): [{"layer": la, "model": m, "seconds": s} for la, m, s in v]
                           for k, v in slowest.items()},
    }


COLUMNS = (("scenario", 20), ("size", 7), ("seconds", 9), ("peak_rss_mb", 11), ("rows", 11),
           ("rows_per_s", 11), ("ratio", 7), ("baseline", 20), ("load_avg", 8))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _header() -> str:
    return " ".join(f"{name:>{width}}" if i else f"{name:<{width}}" for i, (name, width) in enumerate(COLUMNS))


def _format_row(row: dict[str, Any]) -> str:
    return " ".join(f"{_cell(row[name]):>{width}}" if i else f"{_cell(row[name]):<{width}}"
                    for i, (name, width) in enumerate(COLUMNS))


def markdown(report: dict[str, Any]) -> str:
    names = [name for name, _ in COLUMNS]
    lines = [f"# customer_360 benchmark {report['finished_at']}", "",
             f"machine: {report['machine']}", "",
             "| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    lines += ["| " + " | ".join(_cell(row[n]) for n in names) + " |" for row in report["rows"]]
    lines += [line for row in report["rows"] if row["scenario"] == "incremental"
              for line in ("", incremental_summary(row))]
    for size, models in report["slowest_models"].items():
        lines += ["", f"## five slowest models at {size} customers", "", "| layer | model | seconds |",
                  "| --- | --- | --- |"]
        lines += [f"| {m['layer']} | {m['model']} | {m['seconds']:.2f} |" for m in models]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> bool:
    """Seconds vs size per stage, log-log; skipped (False) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series: dict[str, list[tuple[int, float]]] = {}
    for row in report["rows"]:
        if row["size"]:
            series.setdefault(row["scenario"], []).append((row["size"], row["seconds"]))
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, points in sorted(series.items()):
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel="customers", ylabel="seconds", title="customer_360 stages")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,10000,50000", help="customers per size, comma-separated")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help=f"comma-separated, of {','.join(SCENARIOS)} (default: all but incremental)")
    parser.add_argument("--formats", default="parquet,csv", help="landing formats the load scenario reads")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/c360_bench"))
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--reference-date", default="2026-11-01",
                        help="dbt var reference_date, the same for dbt build and the DAG run")
    parser.add_argument("--plot", action="store_true", help="also write a PNG (needs matplotlib)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, json.loads(args.child_args))
        return 0

    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - set(SCENARIOS)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if unknown or set(formats) - {"parquet", "csv"}:
        parser.error(f"unknown scenarios {sorted(unknown)} or formats {formats}")
    sizes = [int(float(s)) for s in args.sizes.split(",") if s.strip()]
    load_before = os.getloadavg()
    report = run(sizes, args.seed, scenarios, formats, args.workdir.resolve(), args.reference_date)
    report["started_load_avg"] = [round(x, 2) for x in load_before]
    report["finished_load_avg"] = [round(x, 2) for x in os.getloadavg()]
    report["finished_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                         "load_avg_start": report["started_load_avg"], "load_avg_end": report["finished_load_avg"]}

    for size, models in report["slowest_models"].items():
        print(f"\nfive slowest models at {size} customers:")
        for m in models:
            print(f"  {m['layer']:<10} {m['model']:<40} {m['seconds']:>8.2f}s")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = args.results_dir / f"bench_{report['finished_at'].replace(':', '')}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    stem.with_suffix(".md").write_text(markdown(report))
    print(f"\nresults: {stem}.json, {stem}.md (load avg start {report['started_load_avg']}, "
          f"end {report['finished_load_avg']})")
    if args.plot:
        png = stem.with_suffix(".png")
        print(f"plot: {png}" if plot(report, png) else "plot skipped: matplotlib is not installed")
    return 0
