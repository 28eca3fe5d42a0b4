"""Benchmark the marts and analytics layers at scale.

    python -m bench.marts [--customers 200000] [--format parquet] [--workdir /tmp/c360_bench_marts]

Generates synthetic landing data with include.synthetic (reused when the same parameters were
generated before), loads it into a fresh DuckDB warehouse, then times:

1. `dbt run` of the whole project (staging and stitching are needed upstream; their seconds are
   shown but the marts/analytics figures are the point),
2. a second `dbt run` of marts + analytics over unchanged sources (the incremental path),
3. optionally (--with-tests) `dbt test` of marts + analytics.

Seconds per model come from dbt's run_results.json; the slowest five marts/analytics models are
listed last. A JSON copy of the figures goes to bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import duckdb
from dbt.cli.main import dbtRunner

from include.loading.duckdb_loader import load_all
from include.synthetic import generate

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_DIR = PROJECT_ROOT / "dbt"
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
LAYERS = ("marts", "analytics")
REFERENCE_DATE = "2026-11-01"


def landing_for(workdir: Path, customers: int, seed: int, file_format: str) -> tuple[Path, float]:
    """The landing directory for these parameters, generated unless it already exists."""
    landing = workdir / f"landing_{customers}_{seed}_{file_format}"
    manifest = landing / "_generator.json"
    if manifest.exists():
        return landing, 0.0
    if landing.exists():
        shutil.rmtree(landing)
    started = time.perf_counter()
    generate(landing, num_customers=customers, seed=seed, file_format=file_format)
    return landing, time.perf_counter() - started


def run_dbt(warehouse: Path, target: Path, *args: str) -> tuple[float, list[dict]]:
    """One in-process dbt invocation; returns wall seconds and its run_results rows."""
    os.environ["C360_DUCKDB_PATH"] = str(warehouse)
    started = time.perf_counter()
    result = dbtRunner().invoke([
        *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(target), "--log-path", str(target / "logs"),
        "--vars", f"{{reference_date: '{REFERENCE_DATE}'}}", "--quiet",
    ])
    wall = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"dbt {' '.join(args)} failed: {result.exception or result.result}")
    rows = json.loads((target / "run_results.json").read_text())["results"]
    return wall, rows


def per_model(rows: list[dict]) -> list[tuple[str, str, float]]:
    """(layer, model, seconds) of every model of a run, slowest first."""
    models = []
    for row in rows:
        parts = row["unique_id"].split(".")
        if parts[0] != "model":
            continue
        models.append((layer_of(parts[-1]), parts[-1], round(row["execution_time"], 2)))
    return sorted(models, key=lambda m: -m[2])


_LAYER_CACHE: dict[str, str] = {}


def layer_of(model: str) -> str:
    if not _LAYER_CACHE:
        for path in (DBT_DIR / "models").rglob("*.sql"):
            _LAYER_CACHE[path.stem] = path.relative_to(DBT_DIR / "models").parts[0]
    return _LAYER_CACHE.get(model, "?")


def print_table(title: str, models: list[tuple[str, str, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'layer':<10} {'model':<32} {'seconds':>8}")
    for layer, model, seconds in models:
        print(f"  {layer:<10} {model:<32} {seconds:>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/c360_bench_marts"))
    parser.add_argument("--with-tests", action="store_true", help="also time dbt test of marts + analytics")
    args = parser.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    landing, generate_seconds = landing_for(args.workdir, args.customers, args.seed, args.format)
    rows = json.loads((landing / "_generator.json").read_text())["rows"]
    print(f"landing: {landing} ({generate_seconds:.1f}s to generate): "
          + ", ".join(f"{name} {count:,}" for name, count in rows.items()))

    warehouse = args.workdir / "warehouse.duckdb"
    for stale in (warehouse, warehouse.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect(str(warehouse)) as con:
        load_all(con, landing, run_id="bench_marts")
    print(f"load: {time.perf_counter() - started:.1f}s")

    target = args.workdir / "target"
    selector = " ".join(f"path:models/{layer}" for layer in LAYERS)
    figures: dict[str, object] = {
        "customers": args.customers, "format": args.format, "rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }

    wall, results = run_dbt(warehouse, target, "seed")
    wall, results = run_dbt(warehouse, target, "run")
    models = per_model(results)
    ours = [m for m in models if m[0] in LAYERS]
    print_table(f"full build: dbt run of every model, {wall:.1f}s wall", models)
    figures["full_run_wall_seconds"] = round(wall, 1)
    figures["full_run_models"] = models

    wall, results = run_dbt(warehouse, target, "run", "--select", *selector.split())
    incremental = per_model(results)
    print_table(f"rerun over unchanged sources (incremental facts): marts + analytics, {wall:.1f}s wall", incremental)
    figures["rerun_wall_seconds"] = round(wall, 1)
    figures["rerun_models"] = incremental

    if args.with_tests:
        wall, results = run_dbt(warehouse, target, "test", "--select", *selector.split())
        print(f"\ndbt test of marts + analytics: {wall:.1f}s wall, {len(results)} tests")
        figures["test_wall_seconds"] = round(wall, 1)

    print_table("slowest five marts/analytics models (full build)", ours[:5])
    print(f"  marts + analytics total: {sum(m[2] for m in ours):.1f}s of model time")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"marts_{args.customers}_{args.format}.json"
    out.write_text(json.dumps(figures, indent=2))
    print(f"figures: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
