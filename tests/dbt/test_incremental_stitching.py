"""The stitching layer run again and again into the same warehouse, so int_id_components takes the
incremental path of the connected_components materialization (its state table
int_id_components__cc_state), must still equal the independent networkx reference after every run.

Each sequence is an initial dataset and then batches appended one at a time; after each batch the
cumulative dataset replaces the raw tables and the stitching selection runs WITHOUT --full-refresh.
Every batch carries a little random noise and one deliberately built flip of the identity graph,
checked on the reference when it is built (so a flip cannot silently be a no-op):
  merge           - a new link joins two existing profiles;
  chain           - new anonymous_ids chain 3-5 profiles into one at once;
  super_connector - an anonymous_id holding a profile together crosses the user_id limit (splits it);
  shared_account  - a user_id crosses the anonymous_id limit and leaves its profile;
  bot             - bot ids and listed ids linked to several profiles (which must not merge);
  raise_limits    - the thresholds (env vars) go up: excluded ids come back, their profiles merge;
  lower_limits    - the thresholds go down: ids become excluded without any new row.
Small thresholds (3 user_ids per anonymous_id, 4 anonymous_ids per user_id) keep the data small.
Coloured sequences alternate C360_BUILD_COLOUR blue/green, so each colour's state lags two batches.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import pytest

from tests.support.stitching_fixtures import (
    Dataset,
    Expected,
    Node,
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

pytestmark = pytest.mark.slow  # dozens of dbt runs of the staging and stitching layers, some on the emulator

BASE_LIMITS = (3, 4)  # (user_ids per anonymous_id, anonymous_ids per user_id)
LIMIT_ENV = ("C360_STITCH_MAX_USER_IDS_PER_ANONYMOUS_ID", "C360_STITCH_MAX_ANONYMOUS_IDS_PER_USER_ID")
EXCLUSION_LIST = [("listed-a", "anonymous_id", "test"), ("listed-u", "user_id", "test")]
BOT_ANONYMOUS_IDS = ["#{anonymousId}", "null", "{{ anonymous_id }}", "undefined"]
BOT_USER_IDS = ["${userId}", "none", "#{user.id}"]
REQUIRED_FLIPS = ["merge", "chain", "super_connector", "shared_account", "bot", "raise_limits"]
ALL_FLIPS = [*REQUIRED_FLIPS, "lower_limits"]
STATE_TABLE = "int_id_components__cc_state"


# --- the reference's view of a cumulative dataset ---------------------------------------------------------


@dataclass
class Snapshot:
    """The reference outcome of a dataset, with what the flips need to pick their ids."""

    expected: Expected
    limits: tuple[int, int]
    users_of: dict[str, set[str]]
    anons_of: dict[str, set[str]]
    graph: nx.Graph  # the surviving ids and links

    @staticmethod
    def of(data: Dataset, limits: tuple[int, int]) -> Snapshot:
        expected = reference(data, rules_of(limits), EXCLUSION_LIST)
        users_of: dict[str, set[str]] = defaultdict(set)
        anons_of: dict[str, set[str]] = defaultdict(set)
        graph = nx.Graph()
        graph.add_nodes_from(expected.user_main_id)
        for anon, user in expected.links:
            users_of[anon].add(user)
            anons_of[user].add(anon)
            a, u = ("anonymous_id", anon), ("user_id", user)
            if a in expected.user_main_id and u in expected.user_main_id:
                graph.add_edge(a, u)
        return Snapshot(expected, limits, users_of, anons_of, graph)

    def profile(self, node: Node) -> str | None:
        return self.expected.user_main_id.get(node)

    @property
    def profiles(self) -> int:
        return len(set(self.expected.user_main_id.values()))

    def users_with_room(self, room: int = 1) -> dict[str, list[str]]:
        """Surviving user_ids that can take `room` more anonymous_ids within the limit, by profile."""
        return self._with_room("user_id", self.anons_of, self.limits[1], room)

    def anons_with_room(self, room: int = 1) -> dict[str, list[str]]:
        """Surviving anonymous_ids that can take `room` more user_ids within the limit, by profile."""
        return self._with_room("anonymous_id", self.users_of, self.limits[0], room)

    def _with_room(self, kind: str, linked: dict[str, set[str]], limit: int, room: int) -> dict[str, list[str]]:
        by_profile: dict[str, list[str]] = defaultdict(list)
        for (node_kind, value), label in sorted(self.expected.user_main_id.items()):
            if node_kind == kind and len(linked[value]) + room <= limit:
                by_profile[label].append(value)
        return by_profile


def rules_of(limits: tuple[int, int]) -> dict:
    return {"max_users_per_anonymous_id": limits[0], "max_anonymous_ids_per_user_id": limits[1]}


# --- sequences of batches -----------------------------------------------------------------------------------


@dataclass
class Step:
    label: str
    data: Dataset  # cumulative
    limits: tuple[int, int]
    colour: str  # "" (plain build) or blue / green

    @property
    def schema(self) -> str:
        return f"stitching__{self.colour}" if self.colour else "stitching"

    def expected(self) -> Expected:
        return reference(self.data, rules_of(self.limits), EXCLUSION_LIST)


@dataclass
class SequenceBuilder:
    """Builds a sequence of cumulative datasets; every flip checks its effect on the reference."""

    seed: int
    rng: random.Random = field(init=False)
    data: Dataset = field(default_factory=Dataset)
    limits: tuple[int, int] = BASE_LIMITS
    ids: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def fresh(self, kind: str) -> str:
        return f"{kind}{next(self.ids):03d}"

    def snapshot(self) -> Snapshot:
        return Snapshot.of(self.data, self.limits)

    def add(self, rows: list[tuple[str | None, str | None]]) -> None:
        for anon, user in rows:
            if self.rng.random() < 0.1 and anon:  # the same id padded: staging trims it
                anon = f" {anon}  "
            (self.data.js if self.rng.random() < 0.6 else self.data.ruby).append((anon, user))

    def person(self, users: int, anons: int) -> list[str]:
        """users and anonymous_ids of one person: the first device sees every user_id (the only
        thing holding them together), the others one user_id each."""
        user_ids = [self.fresh("u") for _ in range(users)]
        anon_ids = [self.fresh("a") for _ in range(anons)]
        self.add([(anon_ids[0], u) for u in user_ids])
        self.add([(a, self.rng.choice(user_ids)) for a in anon_ids[1:]])
        return user_ids

    def pick_profiles(self, by_profile: dict[str, list[str]], k: int, what: str) -> list[str]:
        labels = sorted(by_profile)
        assert len(labels) >= k, f"seed {self.seed}: fewer than {k} profiles with {what}"
        return [self.rng.choice(by_profile[label]) for label in self.rng.sample(labels, k)]

    # -- the initial dataset and the noise of every batch

    def initial(self) -> None:
        for users in [3, 2, *(self.rng.randint(1, 3) for _ in range(self.rng.randint(4, 7)))]:
            self.person(users, self.rng.randint(1, 3))
        # already excluded: an anonymous_id one user_id over the limit, joining distinct people, and a
        # user_id one anonymous_id over it, one of whose devices also saw another user_id
        users = self.pick_profiles(self.snapshot().users_with_room(), self.limits[0] + 1, "room")
        connector = self.fresh("a")
        self.add([(connector, u) for u in users])
        shared, anons = self.fresh("u"), [self.fresh("a") for _ in range(self.limits[1] + 1)]
        self.add([(a, shared) for a in anons] + [(anons[0], self.fresh("u"))])
        self.data.order_user_ids += [users[0], self.fresh("u")]
        self.noise()
        after = self.snapshot()
        assert {"super_connector", "shared_account"} <= set(after.expected.excluded.values()), self.seed

    def noise(self) -> None:
        for _ in range(self.rng.randint(1, 3)):
            now = self.snapshot()
            choice = self.rng.randrange(5)
            if choice == 0:
                self.person(self.rng.randint(1, 3), self.rng.randint(1, 2))
            elif choice == 1:  # a random link between ids with room (merges or not)
                anons, users = now.anons_with_room(), now.users_with_room()
                if anons and users:
                    self.add(
                        [
                            (
                                self.rng.choice(anons[self.rng.choice(sorted(anons))]),
                                self.rng.choice(users[self.rng.choice(sorted(users))]),
                            )
                        ]
                    )
            elif choice == 2:  # orders: a known user_id and one only orders know
                self.data.order_user_ids += [
                    *self.pick_profiles(now.users_with_room(0), 1, "user_ids"),
                    self.fresh("u"),
                ]
            elif choice == 3:  # an event seen again (duplicate edge)
                self.add([self.rng.choice(self.data.js + self.data.ruby)])
            else:  # half-empty events: lone ids
                self.add([(self.fresh("a"), None), ("  ", self.fresh("u"))])

    # -- the flips: each adds rows or changes the limits, and checks its effect

    def flip(self, kind: str) -> None:
        before = self.snapshot()
        check = getattr(self, kind)(before)
        after = self.snapshot()
        check(after)

    def merge(self, before: Snapshot) -> Callable[[Snapshot], None]:
        anons = before.anons_with_room()
        users = before.users_with_room()
        if self.rng.random() < 0.5 and anons:  # an existing device sees a user_id of another profile
            anon = self.rng.choice(anons[self.rng.choice(sorted(anons))])
            label = before.profile(("anonymous_id", anon))
            user = self.pick_profiles({k: v for k, v in users.items() if k != label}, 1, "room")[0]
            pair = [("anonymous_id", anon), ("user_id", user)]
            self.add([(anon, user)])
        else:  # a new device sees two user_ids of different profiles
            first, second = self.pick_profiles(users, 2, "room")
            pair = [("user_id", first), ("user_id", second)]
            self.add([(anon, u) for anon in [self.fresh("a")] for u in (first, second)])

        def check(after: Snapshot) -> None:
            assert after.profile(pair[0]) == after.profile(pair[1]), (self.seed, pair)
            assert after.profiles == before.profiles - 1, self.seed

        return check

    def chain(self, before: Snapshot) -> Callable[[Snapshot], None]:
        k = self.rng.randint(3, 5)
        users = self.pick_profiles(before.users_with_room(2), k, "room for two links")
        self.add([(anon, u) for i in range(k - 1) for anon in [self.fresh("a")] for u in users[i : i + 2]])

        def check(after: Snapshot) -> None:
            assert len({after.profile(("user_id", u)) for u in users}) == 1, (self.seed, users)
            assert after.profiles == before.profiles - (k - 1), self.seed

        return check

    def super_connector(self, before: Snapshot) -> Callable[[Snapshot], None]:
        def holds_together(anon: str) -> list[str]:
            node = ("anonymous_id", anon)
            users = [u for u in sorted(before.users_of[anon]) if ("user_id", u) in before.graph]
            if node not in before.graph or len(users) < 2:
                return []
            rest = before.graph.subgraph(before.graph.nodes - {node})
            return users if not nx.has_path(rest, ("user_id", users[0]), ("user_id", users[1])) else []

        candidates = {a: us for a in sorted(before.users_of) if (us := holds_together(a))}
        assert candidates, f"seed {self.seed}: no anonymous_id holds a profile together"
        anon = self.rng.choice(sorted(candidates))
        extra = self.limits[0] + 1 - len(before.users_of[anon])
        self.add([(anon, self.fresh("u")) for _ in range(extra)])

        def check(after: Snapshot) -> None:
            assert after.expected.excluded.get(("anonymous_id", anon)) == "super_connector", self.seed
            assert len({after.profile(("user_id", u)) for u in candidates[anon]}) > 1, (self.seed, anon)

        return check

    def shared_account(self, before: Snapshot) -> Callable[[Snapshot], None]:
        sizes = defaultdict(int)
        for label in before.expected.user_main_id.values():
            sizes[label] += 1
        candidates = [u for label, us in sorted(before.users_with_room(0).items()) if sizes[label] >= 3 for u in us]
        assert candidates, f"seed {self.seed}: no user_id in a profile of three ids"
        user = self.rng.choice(candidates)
        label = before.profile(("user_id", user))
        mates = {n for n, lab in before.expected.user_main_id.items() if lab == label} - {("user_id", user)}
        extra = self.limits[1] + 1 - len(before.anons_of[user])
        self.add([(self.fresh("a"), user) for _ in range(extra)])

        def check(after: Snapshot) -> None:
            assert after.expected.excluded.get(("user_id", user)) == "shared_account", self.seed
            assert ("user_id", user) not in after.expected.user_main_id
            assert mates <= after.expected.user_main_id.keys(), self.seed  # the others stay

        return check

    def bot(self, before: Snapshot) -> Callable[[Snapshot], None]:
        users = self.pick_profiles(before.users_with_room(2), 3, "room for two links")
        anons = self.pick_profiles(before.anons_with_room(2), 3, "room for two links")
        bot_anon, bot_user = self.rng.choice(BOT_ANONYMOUS_IDS), self.rng.choice(BOT_USER_IDS)
        self.add(
            [
                (bot_anon, users[0]),
                (bot_anon, users[1]),
                (anons[0], bot_user),
                (anons[1], bot_user),
                ("listed-a", users[2]),
                ("listed-a", users[1]),
                (anons[2], "listed-u"),
                (anons[0], "listed-u"),
            ]
        )

        def check(after: Snapshot) -> None:
            excluded = after.expected.excluded
            assert excluded[("anonymous_id", bot_anon)] == excluded[("user_id", bot_user)] == "bot_pattern"
            assert excluded[("anonymous_id", "listed-a")] == excluded[("user_id", "listed-u")] == "exclusion_list"
            assert after.profiles == before.profiles, self.seed

        return check

    def raise_limits(self, before: Snapshot) -> Callable[[Snapshot], None]:
        self.limits = (self.limits[0] + self.rng.randint(1, 2), self.limits[1] + self.rng.randint(1, 2))

        def check(after: Snapshot) -> None:
            assert set(before.expected.excluded) - set(after.expected.excluded), f"seed {self.seed}: none back"
            assert after.profiles < before.profiles, self.seed

        return check

    def lower_limits(self, before: Snapshot) -> Callable[[Snapshot], None]:
        self.limits = BASE_LIMITS if self.limits != BASE_LIMITS else (self.limits[0] - 1, self.limits[1] - 1)

        def check(after: Snapshot) -> None:
            assert set(after.expected.excluded) - set(before.expected.excluded), f"seed {self.seed}: none out"

        return check

    def step(self, label: str, colour: str) -> Step:
        copy = Dataset(list(self.data.js), list(self.data.ruby), list(self.data.order_user_ids))
        return Step(label, copy, self.limits, colour)


def plan(seed: int, batches: int, coloured: bool, flips: list[str] | None = None) -> list[Step]:
    """The initial dataset and `batches` batches, each noise plus one flip (all of REQUIRED_FLIPS when
    batches >= 6, else a seeded sample of ALL_FLIPS); a flip given as "merge+bot" is two in a batch."""
    seq = SequenceBuilder(seed)
    if flips is None:
        flips = seq.rng.sample(REQUIRED_FLIPS, 6) if batches >= 6 else seq.rng.sample(ALL_FLIPS, batches)
    colours = itertools.cycle(["blue", "green"] if coloured else [""])
    seq.initial()
    steps = [seq.step("initial", next(colours))]
    for flip in flips[:batches]:
        seq.noise()
        for kind in flip.split("+"):
            seq.flip(kind)
        steps.append(seq.step(flip, next(colours)))
    return steps


# --- running and comparing ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the project for the module: dbt parses it once (state lives in the warehouses)."""
    return copy_project(tmp_path_factory.mktemp("incremental") / "dbt", EXCLUSION_LIST)


def set_env(monkeypatch: pytest.MonkeyPatch, step: Step) -> None:
    for name, value in zip(LIMIT_ENV, step.limits, strict=True):
        monkeypatch.setenv(name, str(value))
    if step.colour:
        monkeypatch.setenv("C360_BUILD_COLOUR", step.colour)
    else:
        monkeypatch.delenv("C360_BUILD_COLOUR", raising=False)


def run_step(project: Path, db: Path, step: Step, monkeypatch: pytest.MonkeyPatch, first: bool = False) -> str:
    """Write the step's cumulative dataset and run the stitching selection, never with --full-refresh
    (the first run of a warehouse or colour also loads the seeds); returns dbt's log of the run."""
    set_env(monkeypatch, step)
    write_dataset(db, step.data)
    # dbt's data tests are left out: a few seconds a run, and the checks below cover the output
    outcome = (
        run_dbt(project, db, "build", extra_args=["--exclude-resource-type", "test"])
        if first
        else run_dbt(project, db, "run")
    )
    assert outcome.success, f"{step.label}: " + "\n".join(outcome.failures)
    return outcome.output


def describe(actual: dict[Node, str], expected: dict[Node, str]) -> str:
    got, want = partition(actual), partition(expected)
    wrong = sorted((sorted(p) for p in got - want), key=len)[:5]
    missing = sorted((sorted(p) for p in want - got), key=len)[:5]
    return f"profiles not expected: {wrong}\nprofiles missing: {missing}"


def assert_step(db: Path, step: Step, where: str) -> None:
    expected = step.expected()
    stitched = actual_stitch(db, step.schema)
    differences = describe(stitched, expected.user_main_id)
    assert partition(stitched) == partition(expected.user_main_id), f"{where}\n{differences}"
    assert stitched == expected.user_main_id, where
    assert actual_excluded(db, step.schema) == expected.excluded, where
    # one row per id: a duplicated node would not show in the dicts above
    stitcher, components = f"{step.schema}.user_id_stitcher", f"{step.schema}.int_id_components"
    rows = read_table(
        db, f"select (select count(*) from {stitcher}), (select count(*) - count(distinct node_key) from {components})"
    )
    assert rows == [(len(stitched), 0)], where


SEQUENCES = [
    # seed, batches, coloured
    (1, 6, True),
    (2, 5, False),
    (3, 4, True),
    (4, 5, False),
]


def test_sequences_contain_every_flip() -> None:
    planned = [step.label for seed, batches, coloured in SEQUENCES for step in plan(seed, batches, coloured)]
    assert set(REQUIRED_FLIPS) <= set(planned)
    assert planned.count("raise_limits") >= 2


@pytest.mark.parametrize(("seed", "batches", "coloured"), SEQUENCES)
def test_incremental_runs_equal_the_reference(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, batches: int, coloured: bool
) -> None:
    db = tmp_path / "warehouse.duckdb"
    built: set[str] = set()
    steps = plan(seed, batches, coloured)
    for number, step in enumerate(steps):
        log = run_step(project, db, step, monkeypatch, first=step.colour not in built)
        where = f"seed {seed}, step {number} ({step.label}, colour {step.colour or '-'}, limits {step.limits})"
        if step.colour in built:  # the path under test was taken
            assert incremental_lines(log), f"{where}: int_id_components did not run incrementally"
        built.add(step.colour)
        assert_step(db, step, where)
    if coloured:  # each colour kept its own state, two batches behind the other's
        for colour in ("blue", "green"):
            assert read_table(
                db,
                f"select count(*) from information_schema.tables where table_schema = "
                f"'stitching__{colour}' and table_name = '{STATE_TABLE}'",
            ) == [(1,)]


# --- the state is really used -------------------------------------------------------------------------


def incremental_lines(log: str) -> list[str]:
    """The materialization's log line of an incremental run (a full one logs "full computation")."""
    return [line for line in log.splitlines() if "int_id_components: incremental:" in line]


def dirty_components(line: str) -> int:
    # "int_id_components: incremental: 3 nodes gained or lost an edge; 1 of 9 previous components are dirty; ..."
    found = re.search(r"(\d+) of \d+ previous components are dirty", line)
    assert found, f"no number of dirty components in: {line}"
    return int(found.group(1))


def test_second_run_takes_the_incremental_path(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "warehouse.duckdb"
    initial, merged = plan(seed=11, batches=1, coloured=False, flips=["merge"])
    first = run_step(project, db, initial, monkeypatch, first=True)
    assert not incremental_lines(first)
    assert "int_id_components: full computation" in first
    assert read_table(db, f"select count(*) from stitching.{STATE_TABLE}")[0][0] > 0

    unchanged = run_step(project, db, initial, monkeypatch)
    assert_step(db, initial, "the same data again")
    changed = run_step(project, db, merged, monkeypatch)
    assert_step(db, merged, "a merge")
    lines = incremental_lines(unchanged), incremental_lines(changed)
    assert all(lines), f"no 'incremental' line of int_id_components in the logs: {lines}"
    assert dirty_components(lines[0][-1]) == 0
    assert dirty_components(lines[1][-1]) > 0


# --- the Snowflake SQL of the incremental path ----------------------------------------------------------


def test_incremental_runs_on_snowflake_sql_via_fakesnow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snowflake_emulator
) -> None:
    """Two runs into one emulator database: a full build, then an incremental one whose batch both
    merges profiles (a chain) and splits one (a super-connector), so edges are gained and lost."""
    project = copy_project(tmp_path / "dbt", EXCLUSION_LIST)
    log_file = project / "logs-snowflake" / "dbt.log"
    for number, step in enumerate(plan(seed=21, batches=1, coloured=False, flips=["chain+super_connector"])):
        set_env(monkeypatch, step)
        start = log_file.stat().st_size if log_file.exists() else 0
        stitched, excluded = run_on_emulator(snowflake_emulator, project, step.data, database="c360_incremental")
        log = log_file.read_text(encoding="utf-8", errors="replace")[start:]
        where = f"step {number} ({step.label})"
        if number > 0:
            assert [dirty_components(line) for line in incremental_lines(log)][-1:] > [0], where
        expected = step.expected()
        differences = describe(stitched, expected.user_main_id)
        assert partition(stitched) == partition(expected.user_main_id), f"{where}\n{differences}"
        assert stitched == expected.user_main_id, where
        assert excluded == expected.excluded, where
