"""The identity stitching layer (issue 3), end to end through real dbt on real DuckDB.

Many small graphs with disjoint id prefixes are packed into one dataset, so each dbt run checks all
of them at once against an independent networkx implementation of the rules
(tests/support/stitching_fixtures.py). Runs: defaults; shuffled rows on one thread; dense surrogates (every
hash "collides", ids in sorted order - the adversarial case for min-label hooking); partial hash
collisions; thresholds set per run; the max_rounds guard; and dbt-snowflake on fakesnow.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import duckdb
import pytest

from tests.support.stitching_fixtures import (
    Dataset,
    Expected,
    actual_excluded,
    actual_stitch,
    copy_project,
    partition,
    read_table,
    reference,
    run_dbt,
    run_on_emulator,
    write_dataset,
)

pytestmark = pytest.mark.slow  # dbt builds of the staging and stitching layers, one on the Snowflake emulator

EXCLUSION_LIST = [
    ("listed-anon", "anonymous_id", "bot farm"),
    (" listed-user ", "user_id", "padded entries are trimmed"),
    ("listed-super", "anonymous_id", "also a super-connector"),
    ("never-seen", "user_id", "not in the data: no row"),
]
CHAIN_IDS = 200
# characters that break naive quoting, LIKE patterns, escapes and byte-wise ordering
AWKWARD = ["'", '"', "%", "_", "\\", "\\'", "é", "ß", "日本", "🙂", ",", ";", "--", "\t", "NULL"]


# --- graph builders (each under its own prefix, so the graphs are disjoint) ---------------------------


def chain(prefix: str, ids: int, order: str, rng: random.Random) -> list[tuple[str, str]]:
    """u0 - a0 - u1 - a1 - ...: `ids` nodes on a path. order = sorted (string order follows the path),
    reversed, or shuffled (string order unrelated to the path)."""
    n_users = (ids + 1) // 2
    n_anons = ids - n_users
    labels = list(range(max(n_users, n_anons)))
    if order == "reversed":
        labels.reverse()
    elif order == "shuffled":
        rng.shuffle(labels)
    user = [f"{prefix}u{labels[i]:05d}" for i in range(n_users)]
    anon = [f"{prefix}a{labels[i]:05d}" for i in range(n_anons)]
    rows = []
    for i in range(n_anons):
        rows.append((anon[i], user[i]))
        if i + 1 < n_users:
            rows.append((anon[i], user[i + 1]))
    return rows


def cycle(prefix: str, length: int) -> list[tuple[str, str]]:
    rows = []
    for i in range(length):
        rows.append((f"{prefix}a{i}", f"{prefix}u{i}"))
        rows.append((f"{prefix}a{i}", f"{prefix}u{(i + 1) % length}"))
    return rows


def random_graph(prefix: str, rng: random.Random, alphabet: list[str]) -> list[tuple[str, str]]:
    """A sparse random bipartite graph whose ids contain awkward characters."""
    n_anon, n_user = rng.randint(1, 30), rng.randint(1, 30)

    def name(kind: str, i: int) -> str:
        return f"{prefix}{kind}{rng.choice(alphabet)}{i}{rng.choice(alphabet)}"

    anons = [name("a", i) for i in range(n_anon)]
    users = [name("u", i) for i in range(n_user)]
    return [(rng.choice(anons), rng.choice(users)) for _ in range(rng.randint(0, 45))]


def build_dataset(seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    data = Dataset()

    def add(rows: list[tuple[str | None, str | None]]) -> None:
        # both SDKs feed the graph: split every graph between them
        for row in rows:
            (data.js if rng.random() < 0.6 else data.ruby).append(row)

    for order in ("sorted", "reversed", "shuffled"):
        add(chain(f"chain-{order}-", CHAIN_IDS, order, rng))
    add(chain("short-", 2, "sorted", rng))
    # stars: a user_id with 30 devices, an anonymous_id with 4 user_ids
    add([(f"star-a{i}", "star-u") for i in range(30)])
    add([("star2-a", f"star2-u{i}") for i in range(4)])
    add(cycle("cycle-", 7))
    add(cycle("cycle2-", 1))
    # duplicate edges, within and across SDKs
    add([("dup-a", "dup-u")] * 4 + [("dup-a", "dup-u2"), ("dup-a2", "dup-u2")] * 2)
    # "self-links": the same string as anonymous_id and user_id is two nodes, joined by the event
    add([("same", "same"), ("same", "same-other"), ("same2", "x"), ("x", "same3")])
    # padding is trimmed, blanks are nulls: lone ids and ids padded on one side only
    add([(" pad-a ", "pad-u"), ("pad-a", " pad-u "), ("   ", "lone-user-blank-anon"), ("lone-anon", ""),
         ("lone-anon2", None), (None, "lone-user"), ("", "")])
    # bot / template ids: excluded, their partners stay as nodes
    add([("#{anonymousId}", "bot-u1"), ("#{anonymousId}", "bot-u2"), ("null", "bot-u3"), ("bot-a", "${userId}"),
         ("bot-a", "bot-u4"), ("{{user}}", "bot-u4"), ("nullable-is-fine", "bot-u5")])
    # exclusion list (seed), incl. a padded seed entry and one id that is also a super-connector
    add([("listed-anon", "list-u1"), ("listed-anon", "list-u2"), ("list-a", "listed-user"), ("list-a", "list-u3")])
    add([("listed-super", f"list-super-u{i}") for i in range(9)])
    # thresholds at their boundary: 5 user_ids stay, 6 are a super-connector; 100 anonymous_ids
    # stay, 101 are a shared account
    add([("b5-a", f"b5-u{i}") for i in range(5)])
    add([("b6-a", f"b6-u{i}") for i in range(6)])
    add([(f"b100-a{i}", "b100-u") for i in range(100)])
    add([(f"b101-a{i}", "b101-u") for i in range(101)])
    # a shared account whose devices also reach another user: the split is visible
    add([("b101-a0", "b101-other"), ("b6-friend-a", "b6-u0")])
    # bridges under every threshold join two people
    add([("bridge-a", "bridge-u1"), ("bridge-a", "bridge-u2"), ("bridge-a2", "bridge-u2")])
    add([(f"bridge21-a{i}", "bridge21-u") for i in range(21)])
    # awkward characters, as whole ids and inside ids
    add([(f"odd-{c}", f"odd-u{c}") for c in AWKWARD] + [(c, f"bare-{i}") for i, c in enumerate(AWKWARD)])
    add([("odd-'", "odd-u%"), ("odd-_", "odd-u\\")])
    for g in range(40):
        add(random_graph(f"rnd{g}-", rng, [*AWKWARD, "", "x", "Y"]))
    # orders: user_ids known from identify events and ones only orders know
    data.order_user_ids += ["star-u", "chain-sorted-u00000", "order-only-1", "order-only-2", " order-only-1 ", "same"]
    return data


DATASET = build_dataset()


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("stitching") / "dbt", EXCLUSION_LIST)


@pytest.fixture(scope="module")
def expected() -> Expected:
    return reference(DATASET, exclusion_list=EXCLUSION_LIST)


@pytest.fixture(scope="module")
def default_run(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dataset built with `dbt build` (models and their tests) at the project's defaults."""
    db = tmp_path_factory.mktemp("default") / "warehouse.duckdb"
    write_dataset(db, DATASET)
    outcome = run_dbt(project, db, "build")
    assert outcome.success, "\n".join(outcome.failures)
    return db


def rounds_of_last_run(db: Path) -> list[tuple]:
    return read_table(
        db,
        """select round_number, edges, edges_left, converged from stitching.stitch_runs
           where invocation_id = (select invocation_id from stitching.stitch_runs
                                  order by recorded_at desc limit 1)
           order by round_number""",
    )


def assert_matches(db: Path, expected: Expected) -> None:
    actual = actual_stitch(db)
    assert partition(actual) == partition(expected.user_main_id)
    assert actual == expected.user_main_id
    assert actual_excluded(db) == expected.excluded


# --- the rules ------------------------------------------------------------------------------------------


def test_partition_equals_networkx(default_run: Path, expected: Expected) -> None:
    assert_matches(default_run, expected)


def test_exclusion_rules_at_their_boundaries(default_run: Path) -> None:
    excluded = actual_excluded(default_run)
    stitched = actual_stitch(default_run)
    assert ("anonymous_id", "b5-a") not in excluded
    assert excluded[("anonymous_id", "b6-a")] == "super_connector"
    assert ("user_id", "b100-u") not in excluded
    assert excluded[("user_id", "b101-u")] == "shared_account"
    # the excluded id's partners stay nodes, each a profile of its own unless linked otherwise
    assert len({stitched[("user_id", f"b6-u{i}")] for i in range(1, 6)}) == 5
    assert stitched[("anonymous_id", "b101-a0")] == stitched[("user_id", "b101-other")]
    assert len({stitched[("user_id", f"b5-u{i}")] for i in range(5)}) == 1
    assert excluded[("anonymous_id", "#{anonymousId}")] == "bot_pattern"
    assert excluded[("anonymous_id", "null")] == "bot_pattern"
    assert ("anonymous_id", "nullable-is-fine") not in excluded
    assert excluded[("user_id", "listed-user")] == "exclusion_list"
    rows = read_table(
        default_run,
        "select reasons, detail from stitching.excluded_ids where other_id = 'listed-super'",
    )
    assert rows == [("exclusion_list, super_connector", "on the exclusion list: also a super-connector")]
    assert not read_table(default_run, "select * from stitching.excluded_ids where other_id = 'never-seen'")


def test_qa_tables_agree_with_the_reference(default_run: Path, expected: Expected) -> None:
    sizes = sorted((len(c) for c in expected.components), reverse=True)
    health = read_table(
        default_run,
        """select total_profiles, total_ids, largest_cluster_size, median_cluster_size,
                  clusters_over_10_ids, clusters_over_100_ids, profiles_with_multiple_user_ids, excluded_ids
           from stitching.stitch_cluster_health""",
    )
    multi_user = sum(1 for c in expected.components if sum(t == "user_id" for t, _ in c) > 1)
    ordered = sorted(sizes)
    median = (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
    assert health == [(len(sizes), sum(sizes), sizes[0], median, sum(s > 10 for s in sizes),
                       sum(s > 100 for s in sizes), multi_user, len(expected.excluded))]

    top = read_table(default_run, "select cluster_rank, ids from stitching.stitch_top_clusters order by cluster_rank")
    assert [ids for _, ids in top] == sizes[:100]

    effect = dict(read_table(default_run, "select reason, ids_excluded from stitching.stitch_filter_effect"))
    for reason in ("exclusion_list", "bot_pattern", "super_connector", "shared_account"):
        assert effect[reason] == sum(r == reason for r in expected.excluded.values()), reason
    removed = dict(read_table(default_run, "select reason, edges_removed from stitching.stitch_filter_effect"))
    def end_reasons(link: tuple[str, str]) -> set[str | None]:
        return {expected.excluded.get(("anonymous_id", link[0])), expected.excluded.get(("user_id", link[1]))}

    by_reason = {r: {link for link in expected.links if r in end_reasons(link)} for r in effect if r != "all_reasons"}
    all_removed = set().union(*by_reason.values())
    assert removed == {**{r: len(links) for r, links in by_reason.items()}, "all_reasons": len(all_removed)}
    assert removed["shared_account"] == 101

    bridges = read_table(default_run, "select other_id_type, other_id, is_excluded from stitching.stitch_bridge_ids")
    assert {(t, i) for t, i, _ in bridges} == expected.bridges
    assert {(t, i) for t, i, excluded in bridges if excluded} == expected.bridges & set(expected.excluded)
    assert ("user_id", "star-u") in expected.bridges and ("anonymous_id", "b5-a") in expected.bridges


def test_rounds_are_logged_and_bounded(default_run: Path) -> None:
    rounds = rounds_of_last_run(default_run)
    assert rounds and all(converged for *_, converged in rounds)
    assert rounds[-1][2] == 0
    assert len(rounds) <= math.log2(CHAIN_IDS) + 3


def test_same_output_from_shuffled_rows_on_one_thread(project: Path, default_run: Path, tmp_path: Path) -> None:
    db = tmp_path / "shuffled.duckdb"
    write_dataset(db, DATASET.shuffled(seed=99))
    outcome = run_dbt(project, db, "build", threads=1)
    assert outcome.success, "\n".join(outcome.failures)
    assert actual_stitch(db) == actual_stitch(default_run)
    assert read_table(db, "select * exclude (node_key) from stitching.excluded_ids order by all") == read_table(
        default_run, "select * exclude (node_key) from stitching.excluded_ids order by all"
    )


@pytest.mark.parametrize("bits", [0, 12])
def test_surrogate_collisions_change_nothing(project: Path, expected: Expected, tmp_path: Path, bits: int) -> None:
    """bits=0: every id's hash collides, so all keys are dense numbers in (type, id) order - sorted
    chains are the worst case for hooking to the smallest neighbour; bits=12: about half collide."""
    db = tmp_path / "collisions.duckdb"
    write_dataset(db, DATASET)
    outcome = run_dbt(project, db, "build", variables={"stitch_surrogate_hash_bits": bits})
    assert outcome.success, "\n".join(outcome.failures)
    assert_matches(db, expected)
    collided = read_table(db, f"select count(*) from stitching.int_id_nodes where node_key > {2**bits - 1}")[0][0]
    total = read_table(db, "select count(*) from stitching.int_id_nodes")[0][0]
    assert (collided == total) if bits == 0 else (0.2 * total < collided < 0.8 * total)
    assert len(rounds_of_last_run(db)) <= math.log2(CHAIN_IDS) + 3


def test_thresholds_are_vars(project: Path, tmp_path: Path) -> None:
    """The DAG passes params as templated strings."""
    db = tmp_path / "thresholds.duckdb"
    write_dataset(db, DATASET)
    rules = {"stitch_max_user_ids_per_anonymous_id": "6", "stitch_max_anonymous_ids_per_user_id": "101"}
    outcome = run_dbt(project, db, "build", variables=rules)
    assert outcome.success, "\n".join(outcome.failures)
    assert_matches(db, reference(DATASET, {"max_users_per_anonymous_id": 6, "max_anonymous_ids_per_user_id": 101},
                                 EXCLUSION_LIST))
    assert ("anonymous_id", "b6-a") not in actual_excluded(db)


def test_max_rounds_guard_fails_and_writes_nothing(project: Path, default_run: Path) -> None:
    before = read_table(default_run, "select count(*), sum(component_key) from stitching.int_id_components")
    # Without its state the model computes every component (the unchanged edges would need no round).
    with duckdb.connect(str(default_run)) as con:
        con.execute("drop table stitching.int_id_components__cc_state")
    outcome = run_dbt(project, default_run, "run", select=["int_id_components"], variables={"stitch_max_rounds": 2})
    assert not outcome.success
    message = "\n".join(outcome.failures)
    assert "did not converge within stitch_max_rounds=2: ran 2 rounds" in message
    assert "crossing edges left" in message
    assert read_table(default_run, "select count(*), sum(component_key) from stitching.int_id_components") == before
    assert read_table(default_run, "select count(*) from stitching.stitch_runs where not converged")[0][0] == 2
    leftovers = ("select table_name from information_schema.tables where table_name like '%\\_\\_cc\\_%' escape '\\'"
                 " and table_name not like '%\\_\\_cc\\_state'")
    assert not read_table(default_run, leftovers)


def test_runs_on_snowflake_sql_via_fakesnow(tmp_path: Path, snowflake_emulator) -> None:
    """dbt-snowflake against the Snowflake emulator (fakesnow's server: Snowflake SQL translated onto
    DuckDB), the project as shipped; the result must follow the same rules."""
    data = build_dataset(seed=3)

    def no_tabs(rows: list) -> list:
        # fakesnow's TRIM(x, characters) ignores the characters (a fakesnow gap, not Snowflake's
        # semantics), so ids padded with tabs would differ from the rules for the wrong reason
        return [tuple(v.replace("\t", "~") if v else v for v in row) for row in rows]

    small = Dataset(no_tabs(data.js[:600]), no_tabs(data.ruby[:400]), data.order_user_ids)
    project = copy_project(tmp_path / "dbt", EXCLUSION_LIST)
    stitched, excluded = run_on_emulator(snowflake_emulator, project, small)
    expected = reference(small, exclusion_list=EXCLUSION_LIST)
    assert partition(stitched) == partition(expected.user_main_id)
    assert stitched == expected.user_main_id
    assert excluded == expected.excluded
