"""The investigation's logic on tables built directly in DuckDB (fast); the DAG on a real run is in
tests/e2e/test_dq_gate_runs.py."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import duckdb
import networkx as nx
import pytest

from include.oncall.investigation import (
    InvestigationError,
    articulation_splits,
    investigate,
    record_report,
    validate_request,
)

# (anonymous_id, user_id) identify links: Anna and Ben each have a device, and share a tablet.
LINKS = [("anna-laptop", "anna", "js"), ("tablet", "anna", "js"), ("tablet", "ben", "ruby"),
         ("ben-phone", "ben", "ruby"), ("carl-phone", "carl", "js")]


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    c.execute("create schema stitching; create schema staging")
    c.execute("create table staging.stg_rudderstack__identifies (source_sdk varchar, event_id varchar, "
              "event_at timestamp, anonymous_id varchar, user_id varchar, landed_file_name varchar, "
              "landed_row_number bigint)")
    c.executemany("insert into staging.stg_rudderstack__identifies values (?, ?, ?, ?, ?, 'part-0.csv', ?)",
                  [(sdk, f"e{i}", datetime(2026, 10, 1 + i), anon, user, i)
                   for i, (anon, user, sdk) in enumerate(LINKS)])
    profiles = {"anna": "a" * 32, "ben": "a" * 32, "anna-laptop": "a" * 32, "tablet": "a" * 32,
                "ben-phone": "a" * 32, "carl": "c" * 32, "carl-phone": "c" * 32}
    c.execute("create table stitching.user_id_stitcher (user_main_id varchar, other_id varchar, other_id_type varchar)")
    c.executemany("insert into stitching.user_id_stitcher values (?, ?, ?)",
                  [(m, i, "user_id" if i in ("anna", "ben", "carl") else "anonymous_id") for i, m in profiles.items()])
    c.execute("create table stitching.excluded_ids as select 'kiosk-1' as other_id, 'anonymous_id' as other_id_type, "
              "'super_connector' as reason, 'linked to 40 user_ids (max 5)' as detail")
    yield c
    c.close()


def test_the_shared_device_is_the_bridge_and_the_fix_names_it(con) -> None:
    report = investigate(con, "anna", "user_id", thresholds={"stitch_max_user_ids_per_anonymous_id": 5})
    assert report.user_main_id == "a" * 32 and len(report.members) == 5
    assert [e[1] for e in report.events] == ["e0", "e1", "e2", "e3"]  # time order, both SDKs
    assert (report.bridges[0].other_id, report.bridges[0].split_sizes) == ("tablet", (2, 2))
    assert "`tablet,anonymous_id," in report.suggested_fix
    assert "stitch_max_user_ids_per_anonymous_id from 5 to 1" in report.suggested_fix
    markdown = report.markdown()
    assert "| `tablet` | anonymous_id | 2 | 2, 2 |" in markdown
    record_report(con, "manual__x", report)
    assert con.execute("select ids, user_ids from audit.stitching_investigations").fetchone() == (5, 2)


def test_one_persons_devices_get_no_fix(con) -> None:
    report = investigate(con, user_main_id="c" * 32)
    assert [b.other_id for b in report.bridges] == []  # two ids: nothing to split
    assert report.suggested_fix.startswith("No fix suggested")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"id_value": "nobody"}, "id 'nobody' is not in stitching.user_id_stitcher nor stitching.excluded_ids"),
    ({"id_value": "kiosk-1"}, "was kept out of the identity graph (anonymous_id: super_connector"),
    ({"id_value": "anna", "id_type": "anonymous_id"}, "anonymous_id 'anna' is not in"),
    ({"user_main_id": "f" * 32}, "is not in stitching.user_id_stitcher"),
])
def test_unknown_or_excluded_ids_are_explained(con, kwargs, message) -> None:
    with pytest.raises(InvestigationError) as err:
        investigate(con, **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize(("args", "message"), [
    ((None, None, None), "exactly one of"), (("x", None, "a" * 32), "exactly one of"),
    (("x", "email", None), "id_type must be one of"), ((None, None, "ABC"), "not a 32-character"),
])
def test_invalid_requests_are_refused(args, message) -> None:
    with pytest.raises(InvestigationError) as err:
        validate_request(*args)
    assert message in str(err.value)


def test_articulation_splits_match_networkx() -> None:
    for seed in range(150):
        rng = random.Random(seed)
        graph = nx.gnm_random_graph(rng.randint(1, 40), rng.randint(0, 60), seed=seed)
        adjacency = {("n", str(v)): {("n", str(w)) for w in graph[v]} for v in graph}
        splits = articulation_splits(adjacency)
        assert {int(node[1]) for node in splits} == set(nx.articulation_points(graph)), seed
        for node, parts in splits.items():
            v = int(node[1])
            rest = graph.subgraph(nx.node_connected_component(graph, v) - {v})
            assert parts == tuple(sorted((len(c) for c in nx.connected_components(rest)), reverse=True)), seed
