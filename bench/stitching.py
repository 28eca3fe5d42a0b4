"""Benchmark the stitching layer against scipy's connected_components, in the same run.

    python -m bench.stitching --edges 1e5,1e6,1e7

For each size it generates an identity graph straight into raw identify tables (numpy for the
structure, DuckDB for the strings): people with a user_id and a few anonymous_ids, random bridges
between people, long chains (up to 100k ids), super-connectors, shared accounts, a bot id, lone ids
and duplicate events. It then stages it with dbt (not timed), and measures, each in its own process
so peak RSS is per step:

- dbt:   `dbt run` of the stitching layer alone (filters + components + output, and the QA tables
         reported apart), wall clock of the dbt process and the models' own seconds;
- scipy: reading the staged links from DuckDB as Arrow, string -> int mapping (Arrow dictionary
         encoding), scipy.sparse.csgraph.connected_components and the mapping back to one
         (id, type, label) row per id - no exclusion rules, so it does less work than dbt;
         scipy_with_write_s adds writing that table into DuckDB, as the stitcher writes its own.

With --repeat N both steps run N times, alternating, and the medians are reported: this machine's
speed drifts by up to 1.5x between identical runs.

After the timed steps it checks, untimed, that dbt's profiles are exactly scipy's components of
the graph dbt kept after its exclusions, and stops with an error if they are not. Then a day of
events (about 0.5 %: new people, returning ones, merges, a super-connector) is appended and the
stitching layer runs again on its state (day_*: int_id_components recomputes the touched components
only), checked against scipy the same way. The full runs use --full-refresh.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CORE_MODELS = (
    "int_id_node_hashes", "int_id_key_collisions", "int_id_nodes", "int_id_links", "int_id_link_degrees",
    "excluded_ids", "int_anonymous_id_owners", "int_id_components", "user_id_stitcher",
)


# --- data -----------------------------------------------------------------------------------------


def _graph(edges: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer (anonymous, user) links of about `edges` distinct pairs; returns the longest chain."""
    rng = np.random.default_rng(seed)
    parts_a: list[np.ndarray] = []
    parts_u: list[np.ndarray] = []
    next_anon = 0
    next_user = 0

    def anons(n: int) -> np.ndarray:
        nonlocal next_anon
        next_anon += n
        return np.arange(next_anon - n, next_anon, dtype=np.int64)

    def users(n: int) -> np.ndarray:
        nonlocal next_user
        next_user += n
        return np.arange(next_user - n, next_user, dtype=np.int64)

    # long chains u0 - a0 - u1 - a1 - ...: each anonymous_id links 2 user_ids (under the threshold)
    longest = int(min(100_000, max(200, edges // 50)))
    chain_lengths = [longest, max(100, longest // 10), max(50, longest // 100)]
    for length in chain_lengths:
        u = users(length + 1)
        a = anons(length)
        parts_a += [a, a]
        parts_u += [u[:-1], u[1:]]
    # super-connectors (anonymous_id with 6..50 user_ids) and shared accounts (101..300 anonymous_ids)
    budget = edges - sum(2 * n for n in chain_lengths)
    n_super = max(1, edges // 20_000)
    sizes = rng.integers(6, 51, n_super)
    parts_a.append(np.repeat(anons(n_super), sizes))
    parts_u.append(rng.integers(0, max(1, next_user), sizes.sum()))
    n_shared = max(1, edges // 200_000)
    sizes = rng.integers(101, 301, n_shared)
    parts_u.append(np.repeat(users(n_shared), sizes))
    parts_a.append(anons(int(sizes.sum())))
    budget -= int(parts_a[-1].size + parts_a[-2].size)
    # people: one user_id and 1 + geometric anonymous_ids each
    mean_anons = 2.5
    people = max(1, int(budget / mean_anons / 1.03))
    per_person = np.minimum(rng.geometric(1 / mean_anons, people), 20)
    person_users = users(people)
    parts_u.append(np.repeat(person_users, per_person))
    person_anons = anons(int(per_person.sum()))
    parts_a.append(person_anons)
    # bridges: a device shared with another person (below percolation: no giant component)
    n_bridges = int(0.03 * people)
    parts_a.append(rng.choice(person_anons, n_bridges))
    parts_u.append(rng.choice(person_users, n_bridges))
    a = np.concatenate(parts_a)
    u = np.concatenate(parts_u)
    return a, u, 2 * longest + 1


def generate(db_path: Path, edges: int, seed: int = 42) -> dict:
    """Write raw.identifies_js / identifies_ruby / orders for a graph of about `edges` links."""
    import pyarrow as pa

    rng = np.random.default_rng(seed + 1)
    a, u, longest_chain = _graph(edges, seed)
    n = a.size
    # 10 % of links arrive twice; 5 % anonymous-only and 2 % user-only events; one bot id
    dup = rng.choice(n, n // 10)
    lone_a = rng.choice(a, n // 20)
    lone_u = rng.choice(u, n // 50)
    bot_users = rng.choice(u, max(10, n // 100_000))
    anon = np.concatenate([a, a[dup], lone_a, np.full(bot_users.size, -1), np.full(lone_u.size, -2)])
    user = np.concatenate([u, u[dup], np.full(lone_a.size, -2), bot_users, lone_u])
    order = rng.permutation(anon.size)
    events = pa.table({"a": anon[order], "u": user[order]})
    with duckdb.connect(str(db_path)) as con:
        con.execute("create schema if not exists raw")
        con.register("events", events)
        # anonymous_ids look like UUIDs, user_ids like SHA1-of-e-mail hex; -1 is an unrendered
        # template, -2 a missing value
        identify = """
            select
                '{sdk}-' || cast(row_number() over () as varchar) as id,
                case when a = -1 then '#{{anonymousId}}' when a = -2 then null
                     else substr(md5('a' || cast(a as varchar)), 1, 8) || '-'
                          || substr(md5('a' || cast(a as varchar)), 9, 4) || '-4'
                          || substr(md5('a' || cast(a as varchar)), 14, 19) end as anonymous_id,
                case when u = -2 then null
                     else md5('u' || cast(u as varchar)) || substr(md5('v' || cast(u as varchar)), 1, 8)
                end as user_id,
                timestamp '2024-01-01' + to_seconds(row_number() over ()) as "timestamp",
                timestamp '2024-01-01' + to_seconds(row_number() over () + 1) as received_at,
                cast(null as varchar) as context_traits_email,
                'analytics-{sdk}' as context_library_name,
                'bench.parquet' as _file_name,
                row_number() over () as _row_number,
                'bench' as _run_id,
                now()::timestamp as _loaded_at
            from (select * from events where {where})
        """
        con.execute("create or replace table raw.identifies_js as "
                    + identify.format(sdk="js", where="hash(a, u) % 10 < 7"))
        con.execute("create or replace table raw.identifies_ruby as "
                    + identify.format(sdk="ruby", where="hash(a, u) % 10 >= 7"))
        con.execute("""
            create or replace table raw.orders as
            select
                'o-' || cast(i as varchar) as order_id,
                md5('u' || cast(i * 3 as varchar)) || substr(md5('v' || cast(i * 3 as varchar)), 1, 8) as user_id,
                'completed' as status,
                timestamp '2024-02-01' as ordered_at,
                cast(10 as decimal(18, 2)) as revenue_usd,
                cast(9 as decimal(18, 2)) as subtotal_usd,
                cast(null as decimal(18, 2)) as refund_amount_usd,
                cast(null as varchar) as coupon_code,
                'bench.parquet' as _file_name,
                i as _row_number,
                'bench' as _run_id,
                now()::timestamp as _loaded_at
            from range(?) as t(i)
        """, [max(1, edges // 20)])
        con.unregister("events")
    return {"events": int(anon.size), "longest_chain": longest_chain}


def append_day(db_path: Path, events: int, seed: int = 42) -> int:
    """A day of identify events on top of `generate`'s graph, about 0.5 % of its events: new people,
    returning people on a new device, devices now shared with another existing user (merges), and one
    device pushed over the super-connector limit (a split). Returns the rows appended."""
    k = max(10, events // 200)
    with duckdb.connect(str(db_path)) as con:
        columns = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' "
            "and table_name = 'identifies_js' order by ordinal_position").fetchall()]
        con.execute(f"""
            create or replace temp table day_links as
            with users as (
                select user_id, row_number() over () as i
                from (select distinct user_id from raw.identifies_js where user_id is not null)
                using sample reservoir({k} rows) repeatable ({seed})
            ),
            anons as (
                select anonymous_id, row_number() over () as i
                from (select distinct anonymous_id from raw.identifies_js
                      where anonymous_id is not null and anonymous_id not like '#%')
                using sample reservoir({k} rows) repeatable ({seed + 1})
            ),
            fresh as (select i from range(1, {k} + 1) as t(i))
            select 'day-a-' || i as anonymous_id, 'day-u-' || i as user_id from fresh
            union all
            select 'day-b-' || i, user_id from users
            union all
            select anons.anonymous_id, users.user_id
            from anons inner join users on users.i = (anons.i % {k}) + 1 where anons.i <= {max(1, k // 10)}
            union all
            select (select min(anonymous_id) from anons), 'day-super-' || i from range(1, 8) as t(i)
        """)
        values = {
            "id": "'day-' || row_number() over ()", "anonymous_id": "anonymous_id", "user_id": "user_id",
            "timestamp": "timestamp '2025-01-01' + to_seconds(row_number() over ())",
            "received_at": "timestamp '2025-01-01' + to_seconds(row_number() over () + 1)",
            "context_library_name": "'analytics-js'", "_file_name": "'bench-day.parquet'",
            "_row_number": "row_number() over ()", "_run_id": "'bench-day'", "_loaded_at": "now()::timestamp",
        }
        select = ", ".join(f"{values.get(c, 'null')} as {c}" for c in columns)
        con.execute(f"insert into raw.identifies_js select {select} from day_links")
        return int(con.execute("select count(*) from day_links").fetchone()[0])


# --- measured steps (each runs in a child process) -------------------------------------------------


def scipy_components(db_path: Path) -> dict:
    """Connected components of the staged links with scipy, string ids mapped with Arrow; then the
    result written back as the stitcher's table would be, timed apart (seconds_with_write)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    started = time.perf_counter()
    with duckdb.connect(str(db_path), read_only=True) as con:
        identifies = con.execute(
            "select anonymous_id, user_id from staging.stg_rudderstack__identifies"
        ).to_arrow_table()
        orders = con.execute("select user_id from staging.stg_shop__orders").to_arrow_table()
    # one id space: type-prefixed strings, so a string used as both types is two nodes
    anon = pc.binary_join_element_wise("a:", identifies["anonymous_id"], "")
    user = pc.binary_join_element_wise("u:", identifies["user_id"], "")
    order_users = pc.binary_join_element_wise("u:", orders["user_id"], "")
    encoded = pc.dictionary_encode(pa.chunked_array(anon.chunks + user.chunks + order_users.chunks)).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    n_rows = identifies.num_rows
    a_codes, u_codes = codes[:n_rows], codes[n_rows : 2 * n_rows]
    a_valid = pc.is_valid(encoded.indices.slice(0, n_rows)).to_numpy(zero_copy_only=False)
    u_valid = pc.is_valid(encoded.indices.slice(n_rows, n_rows)).to_numpy(zero_copy_only=False)
    both = a_valid & u_valid
    n_nodes = len(encoded.dictionary)
    graph = coo_matrix(
        (np.ones(int(both.sum()), dtype=np.int8), (a_codes[both].astype(np.int64), u_codes[both].astype(np.int64))),
        shape=(n_nodes, n_nodes),
    ).tocsr()
    components_started = time.perf_counter()
    n_components, labels = connected_components(graph, directed=False)
    components_seconds = time.perf_counter() - components_started
    ids = encoded.dictionary
    result = pa.table({
        "user_main_id": pa.array(labels),
        "other_id": pc.utf8_slice_codeunits(ids, 2),
        "other_id_type": pc.if_else(pc.starts_with(ids, "a:"), "anonymous_id", "user_id"),
    })
    seconds = time.perf_counter() - started
    # the settings the stitching layer writes with (dbt profile, and no string compression there)
    with duckdb.connect(str(db_path), config={"threads": 2, "memory_limit": "4GB", "preserve_insertion_order": False,
                                              "disabled_compression_methods": "dict_fsst"}) as con:
        con.execute("create schema if not exists bench_scipy")
        con.register("scipy_result", result)
        con.execute("create or replace table bench_scipy.profiles as select * from scipy_result")
    seconds_with_write = time.perf_counter() - started
    with duckdb.connect(str(db_path)) as con:
        con.execute("drop schema bench_scipy cascade")
    return {
        "seconds": seconds,
        "seconds_with_write": seconds_with_write,
        "components_seconds": components_seconds,
        "nodes": result.num_rows,
        "components": int(n_components),
    }


def partition_check(db_path: Path) -> dict:
    """Whether dbt's profiles are exactly scipy's components of the graph dbt kept after exclusions.

    The property tests compare with networkx on small graphs; this checks the loop at the
    benchmark's scale, where a wrong convergence test would split or merge profiles.
    """
    import pyarrow.compute as pc
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    with duckdb.connect(str(db_path), read_only=True) as con:
        nodes = con.sql("""
            select nodes.node_key, stitcher.user_main_id
            from stitching.user_id_stitcher as stitcher
            inner join stitching.int_id_nodes as nodes
                on nodes.other_id = stitcher.other_id and nodes.other_id_type = stitcher.other_id_type
        """).to_arrow_table()
        links = con.sql("""
            select links.anonymous_key, links.user_key
            from stitching.int_id_links as links
            where links.anonymous_key not in (select node_key from stitching.excluded_ids)
                and links.user_key not in (select node_key from stitching.excluded_ids)
        """).fetchnumpy()
    keys = nodes["node_key"].to_numpy()
    order = np.argsort(keys)
    sorted_keys = keys[order]
    positions = [np.searchsorted(sorted_keys, links[column]).clip(max=max(len(keys) - 1, 0))
                 for column in ("anonymous_key", "user_key")]
    # an end of a surviving link missing from the stitcher's output is a lost id
    ends_present = all(np.array_equal(sorted_keys[position], links[column])
                       for position, column in zip(positions, ("anonymous_key", "user_key"), strict=True))
    ends = [order[position] for position in positions]
    graph = coo_matrix((np.ones(len(ends[0]), dtype=np.int8), tuple(ends)), shape=(len(keys), len(keys)))
    n_components, labels = connected_components(graph, directed=False)
    mains = pc.dictionary_encode(nodes["user_main_id"]).combine_chunks()
    main_codes = mains.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    n_mains = len(mains.dictionary)
    # two partitions of the same ids are equal when each pairs up one-to-one with the other
    pairs = np.unique(labels.astype(np.int64) * n_mains + main_codes).size
    return {"matches": ends_present and bool(pairs == n_components == n_mains), "scipy_components": int(n_components),
            "profiles": n_mains}


def dbt_step(project: Path, db_path: Path, command: list[str]) -> dict:
    from dbt.cli.main import dbtRunner

    os.environ["C360_DUCKDB_PATH"] = str(db_path)
    os.environ["C360_DBT_TARGET"] = "dev"
    started = time.perf_counter()
    result = dbtRunner().invoke(
        [*command, "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(project / "target"), "--log-path", str(project / "logs"),
         "--no-send-anonymous-usage-stats", "--quiet"]
    )
    wall = time.perf_counter() - started
    models = {}
    if result.result is not None and hasattr(result.result, "results"):
        models = {r.node.name: round(r.execution_time, 3) for r in result.result.results}
    return {"success": bool(result.success), "seconds": wall, "models": models,
            "core_seconds": sum(models.get(m, 0) for m in CORE_MODELS),
            "error": None if result.success else str(result.exception or [
                r.message for r in result.result.results if str(r.status) != "success"])}


def _child(step: str, project: Path, db_path: Path) -> dict:
    """Run one step in a fresh Python process; returns its JSON result plus its peak RSS."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.stitching", "--child", step, "--project", str(project), "--db", str(db_path)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{step} failed:\n{err[-4000:]}\n{out[-4000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = result.pop("rss_kb") / 1024
    return result


def _run_child_step(step: str, project: Path, db_path: Path) -> None:
    import resource

    if step == "scipy":
        result = scipy_components(db_path)
    elif step == "partition":
        result = partition_check(db_path)
    elif step == "stage":
        result = dbt_step(project, db_path, ["build", "--select", "stitch_exclusion_list", "stitch_link_exclusions",
                                             "+stg_rudderstack__identifies", "stg_shop__orders",
                                             "--resource-type", "model", "--resource-type", "seed"])
    elif step == "stitching":
        result = dbt_step(project, db_path, ["run", "--select", "path:models/stitching", "--full-refresh"])
    elif step == "stitching_incremental":
        result = dbt_step(project, db_path, ["run", "--select", "path:models/stitching"])
    else:
        raise SystemExit(f"unknown step {step}")
    result["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


# --- driver ------------------------------------------------------------------------------------------


def _median_run(runs: list[dict], key: str) -> dict:
    """The run whose `key` is the median (the lower one of an even count)."""
    return sorted(runs, key=lambda r: r[key])[(len(runs) - 1) // 2]


def bench(sizes: list[int], workdir: Path, seed: int, repeat: int = 1) -> list[dict]:
    from tests.support.stitching_fixtures import copy_project

    project = copy_project(workdir / "project")
    rows = []
    for edges in sizes:
        db_path = workdir / f"bench_{edges}.duckdb"
        db_path.unlink(missing_ok=True)
        started = time.perf_counter()
        shape = generate(db_path, edges, seed)
        generated = time.perf_counter() - started
        stage = _child("stage", project, db_path)
        if not stage["success"]:
            raise RuntimeError(f"staging failed: {stage['error']}")
        scipy_runs, dbt_runs = [], []
        for _ in range(repeat):
            scipy_runs.append(_child("scipy", project, db_path))
            dbt_runs.append(_child("stitching", project, db_path))
            if not dbt_runs[-1]["success"]:
                raise RuntimeError(f"stitching failed: {dbt_runs[-1]['error']}")
        scipy_result = _median_run(scipy_runs, "seconds")
        dbt_result = _median_run(dbt_runs, "core_seconds")
        partition = _child("partition", project, db_path)
        if not partition["matches"]:
            raise RuntimeError(
                f"edges={edges}: the stitcher's {partition['profiles']} profiles are not scipy's "
                f"{partition['scipy_components']} components of the same filtered graph"
            )
        with duckdb.connect(str(db_path), read_only=True) as con:
            links, nodes, profiles, excluded = con.execute("""
                select (select count(*) from stitching.int_id_links),
                       (select count(*) from stitching.user_id_stitcher),
                       (select count(distinct user_main_id) from stitching.user_id_stitcher),
                       (select count(*) from stitching.excluded_ids)
            """).fetchone()
            rounds = con.execute(
                "select max(round_number) from stitching.stitch_runs where invocation_id = "
                "(select invocation_id from stitching.stitch_runs order by recorded_at desc limit 1)"
            ).fetchone()[0]
        # A day later: the same models on their state (int_id_components recomputes the touched
        # components only), checked against scipy again.
        day_events = append_day(db_path, shape["events"], seed)
        if not _child("stage", project, db_path)["success"]:
            raise RuntimeError("staging the day failed")
        daily = _child("stitching_incremental", project, db_path)
        if not daily["success"]:
            raise RuntimeError(f"incremental stitching failed: {daily['error']}")
        if not _child("partition", project, db_path)["matches"]:
            raise RuntimeError(f"edges={edges}: after the day, the incremental stitcher's profiles are not scipy's")
        models = dbt_result["models"]
        core = dbt_result["core_seconds"]
        qa = sum(s for m, s in models.items() if m not in CORE_MODELS)
        row = {
            "edges": links, "events": shape["events"], "ids": nodes, "profiles": profiles,
            "excluded": excluded,
            "partition_matches_scipy": partition["matches"], "longest_chain": shape["longest_chain"], "rounds": rounds,
            "round_bound": math.floor(math.log2(shape["longest_chain"]) + 3),
            "generate_s": round(generated, 1), "staging_s": round(stage["seconds"], 1),
            "dbt_core_models_s": round(core, 2), "dbt_qa_models_s": round(qa, 2),
            "dbt_wall_s": round(dbt_result["seconds"], 2), "dbt_peak_rss_mb": round(dbt_result["peak_rss_mb"]),
            "day_events": day_events,
            "day_components_s": daily["models"].get("int_id_components"),
            "full_components_s": models.get("int_id_components"),
            "day_core_models_s": round(daily["core_seconds"], 2),
            "scipy_s": round(scipy_result["seconds"], 2),
            "scipy_with_write_s": round(scipy_result["seconds_with_write"], 2),
            "scipy_components_s": round(scipy_result["components_seconds"], 2),
            "scipy_peak_rss_mb": round(scipy_result["peak_rss_mb"]), "scipy_ids": scipy_result["nodes"],
            "models": models,
            "runs": {"dbt_core_models_s": [round(r["core_seconds"], 2) for r in dbt_runs],
                     "scipy_s": [round(r["seconds"], 2) for r in scipy_runs],
                     "scipy_with_write_s": [round(r["seconds_with_write"], 2) for r in scipy_runs]},
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        db_path.unlink(missing_ok=True)
    return rows


def _print_table(rows: list[dict]) -> None:
    columns = ["edges", "ids", "profiles", "excluded", "partition_matches_scipy", "longest_chain", "rounds",
               "round_bound",
               "dbt_core_models_s", "dbt_qa_models_s", "dbt_wall_s", "dbt_peak_rss_mb",
               "full_components_s", "day_events", "day_components_s", "day_core_models_s",
               "scipy_s", "scipy_with_write_s", "scipy_components_s", "scipy_peak_rss_mb"]
    print()
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))
    for row in rows:
        print(f"\nedges={row['edges']}: per model seconds {row['models']}")
        print(f"  core stitching / scipy = {row['dbt_core_models_s'] / row['scipy_s']:.2f}x, "
              f"/ scipy writing its table too = {row['dbt_core_models_s'] / row['scipy_with_write_s']:.2f}x, "
              f"whole dbt process incl. QA and start-up / scipy = {row['dbt_wall_s'] / row['scipy_s']:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edges", default="1e5,1e6", help="comma-separated sizes, e.g. 1e5,1e6,1e7")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each step per size; medians are reported")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.child:
        _run_child_step(args.child, args.project, args.db)
        return
    sizes = [int(float(s)) for s in args.edges.split(",")]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="stitch_bench_"))
    try:
        _print_table(bench(sizes, workdir, args.seed, args.repeat))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
