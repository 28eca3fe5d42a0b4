"""The benchmark entry point at a tiny size, so `python -m bench` cannot rot. No assertions on time:
the figures depend on the machine and its load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the benchmarks end to end at a small size

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_bench_entry_point_small(tmp_path: Path) -> None:
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "300", "--scenarios", "parse,load,dbt",
         "--formats", "parquet,csv", "--workdir", str(tmp_path / "work"), "--results-dir", str(results), "--plot"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    [report_path] = results.glob("bench_*.json")
    assert report_path.with_suffix(".png").stat().st_size > 0
    report = json.loads(report_path.read_text())
    rows = {row["scenario"]: row for row in report["rows"]}
    assert set(rows) == {"parse.dag_file", "parse.dagbag", "load.parquet", "load.csv", "dbt"}
    for name, row in rows.items():
        assert row["seconds"] > 0, name
        assert row["peak_rss_mb"] > 0, name
    for name in ("load.parquet", "load.csv"):
        assert rows[name]["size"] == 300
        assert rows[name]["rows"] > 0 and rows[name]["rows_per_s"] > 0
        assert rows[name]["ratio"] > 0
    assert rows["parse.dagbag"]["tasks"] > 0

    slowest = report["slowest_models"]["300"]
    assert len(slowest) == 5 and all(m["seconds"] >= 0 and m["model"] for m in slowest)

    # the printed table and the markdown carry every scenario
    markdown = report_path.with_suffix(".md").read_text()
    for name in rows:
        assert name in proc.stdout and f"| {name} |" in markdown
    assert "five slowest models at 300 customers" in proc.stdout


def test_stitching_bench_small(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.stitching", "--edges", "3000", "--repeat", "2", "--workdir", str(tmp_path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [row] = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    # the benchmark stops with an error when the partitions differ; this pins that it checked
    assert row["partition_matches_scipy"] is True
    assert row["ids"] == row["scipy_ids"] - row["excluded"]
    assert 0 < row["rounds"] <= row["round_bound"]
    assert row["dbt_core_models_s"] > 0 and 0 < row["scipy_s"] < row["scipy_with_write_s"]
    # two runs of each step, and the reported figure is one of them
    assert len(row["runs"]["dbt_core_models_s"]) == len(row["runs"]["scipy_s"]) == 2
    assert row["dbt_core_models_s"] in row["runs"]["dbt_core_models_s"]
    # a day later, on the model's state (the benchmark stops when that partition differs from scipy's)
    assert row["day_events"] > 0 and row["day_components_s"] > 0


def test_the_publish_benchmark_prints_its_figures(capsys) -> None:
    from bench.publishing import main

    assert main(["--customers", "200", "--repeat", "1"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["scenario"] == "publish" and figures["publishes"] == 2
    assert figures["views"] >= 25 and figures["rows_per_colour"] > 200 * 156
    assert 0 < figures["publish_s_median"] <= figures["publish_s_max"]


def test_incremental_scenario_small(tmp_path: Path) -> None:
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "200", "--scenarios", "incremental",
         "--workdir", str(tmp_path / "work"), "--results-dir", str(results)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    [report_path] = results.glob("bench_*.json")
    rows = {row["scenario"]: row for row in json.loads(report_path.read_text())["rows"]}
    assert set(rows) == {"incremental.first", "incremental.warmup", "incremental", "incremental.rebuild"}
    for name, row in rows.items():
        assert row["size"] == 200, name
        assert row["seconds"] > 0 and row["peak_rss_mb"] > 0 and row["cpu_s"] > 0, name
        assert row["dbt_layers_s"] > 0 and row["tasks"] > 0, name
    first, warmup, second = rows["incremental.first"], rows["incremental.warmup"], rows["incremental"]
    # The first run reads every source's one file; each later run only its day's four new files
    # (the catalogues get none), and all of their rows.
    assert first["files_read"] == 6
    assert warmup["files_read"] == second["files_read"] == 4
    assert second["rows_read"] == second["rows"] > 0
    assert (warmup["day"], second["day"]) == ("2026-11-01", "2026-11-02")
    for key in ("ratio", "cpu_ratio", "rss_ratio", "dbt_layers_ratio", "ratio_vs_rebuild"):
        assert second[key] > 0, key
    assert second["ratio"] == pytest.approx(second["seconds"] / first["seconds"], rel=1e-2)
    # The check ran on every compared contract table and found them equal (the scenario fails otherwise).
    assert second["equal_to_rebuild"] is True
    assert set(second["compared"]) == {"stitching.user_id_stitcher", "stitching.excluded_ids", "marts.with_user_id"}
    for table, entry in second["compared"].items():
        assert entry["equal"] and entry["rows"] > 0 and entry["columns"] > 0, table
        assert entry["only_incremental"] == entry["only_rebuild"] == 0, table

    markdown = report_path.with_suffix(".md").read_text()
    for name in rows:
        assert name in proc.stdout and f"| {name} |" in markdown
    assert "equal_to_rebuild: true" in proc.stdout and "equal_to_rebuild: true" in markdown
