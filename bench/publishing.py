"""Benchmark the publish step at Instacart scale on DuckDB:

    python -m bench.publishing [--customers 206209] [--repeat 3]

Builds, in a fresh DuckDB file, both colours of every model of the published layers (the names come
from dbt's manifest), the largest with the Instacart run's rows per customer (at 206,209 customers:
fct_order_items 32.2M rows, fct_identify_events 9.8M, fct_orders 3.4M, user_id_stitcher ~0.9M) and the
others small; then times publish() of one colour after the other, the way
the DAG's publish task calls it (gate rows present, the build's renames appended). Publishing moves no
data, so its time should not grow with the tables: the figures say whether it does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from include import settings
from include.publishing.build import plan_build, published_layers, schema_map
from include.publishing.lineage import BUILD_MODEL
from include.publishing.publish import publish
from include.quality.report import RESULTS_DDL
from include.warehouse.db import Db

# Rows per customer of the Instacart-scale run's largest models (206,209 customers: 32,219,698 order
# lines, 9,815,856 identify events, 3,404,514 orders); other models get 1,000 rows.
PER_CUSTOMER = {"fct_order_items": 156.25, "fct_identify_events": 47.6, "fct_orders": 16.51, "user_id_stitcher": 4.5,
                "with_user_id": 1.0, "dim_customers": 1.0, "int_profile_sizes": 1.2, "int_user_id_profiles": 1.0,
                "customer_rfm": 1.0}
RENAMES = 10_000  # rows of the build's int_user_main_id_changes: a busy day's merges and splits


def published_models() -> dict[str, list[str]]:
    """Model and seed names per published layer, from dbt's manifest."""
    manifest = json.loads(settings.DBT_MANIFEST.read_text())
    layers: dict[str, list[str]] = {layer: [] for layer in published_layers()}
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed") and node["schema"] in layers:
            layers[node["schema"]].append(node["alias"])
    return layers


def build_colour(con: duckdb.DuckDBPyConnection, colour: str, models: dict[str, list[str]], customers: int) -> int:
    rows_total = 0
    for layer, schema in schema_map(colour).items():
        con.execute(f"create schema if not exists {schema}")
        for name in models[layer]:
            rows = int(PER_CUSTOMER.get(name, 0) * customers) or 1_000
            if name == BUILD_MODEL:
                rows = RENAMES
                con.execute(f"""create or replace table {schema}.{name} as select 'bench' as run_id,
                    md5(range::varchar) as previous_user_main_id, md5((range + 1)::varchar) as user_main_id,
                    'merged' as change, 1::bigint as ids_moved, now()::timestamp as changed_at from range({rows})""")
            else:
                con.execute(f"create or replace table {schema}.{name} as select range as id, md5(range::varchar) "
                            f"as user_id, range * 0.5 as amount from range({rows})")
            rows_total += rows
    return rows_total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=206_209)
    parser.add_argument("--repeat", type=int, default=3, help="publishes per colour (medians reported)")
    args = parser.parse_args(argv)
    models = published_models()
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(str(Path(tmp) / "w.duckdb")) as con:
        db = Db(con)
        db.script(RESULTS_DDL)
        started = time.perf_counter()
        rows = {colour: build_colour(con, colour, models, args.customers) for colour in ("blue", "green")}
        setup_s = time.perf_counter() - started
        timings = []
        for n in range(2 * args.repeat):
            run_id = f"bench-{n}"
            plan_build(db, run_id)
            db.execute("insert into audit.dq_gate_results (run_id, check_name, layer, status) "
                       "values (?, 'bench', 'bench', 'pass')", (run_id,))
            started = time.perf_counter()
            published = publish(db, run_id)
            timings.append(time.perf_counter() - started)
        print(json.dumps({
            "scenario": "publish", "customers": args.customers, "views": published.views,
            "rows_per_colour": rows["blue"], "setup_s": round(setup_s, 1),
            "publish_s_median": round(statistics.median(timings), 3), "publish_s_max": round(max(timings), 3),
            "publishes": len(timings),
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
