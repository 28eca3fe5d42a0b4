"""dim_customers__features recomputes only the profiles an incremental run touches, and dim_customers
built on it, like fct_order_items (rewritten by changed files), still equals a full rebuild; so do
market_basket and its state, market_basket__pair_counts, which recounts only the changed months.

One warehouse takes a sequence of changes to the landing data, each loaded and followed by a `dbt run`
WITHOUT --full-refresh; after each, a copy of the same raw data is rebuilt with --full-refresh and:
  - dim_customers and fct_order_items (every column) and dim_customers__features (but the
    invocation stamp) are equal;
  - the profiles the incremental run recomputed (their dbt_invocation_id changed) are exactly those
    whose fingerprint is new or different in the rebuild, and all of them belong to the ids or
    products the step changed (or to a profile whose members changed): nothing else is recomputed;
  - the log line `dim_customers__features: N of M profiles touched` says so;
  - product_performance and its state product_performance__customers are equal, and the profiles
    that state recomputed are among those dim_customers__features recomputed;
  - market_basket and market_basket__pair_counts are equal, and the months recounted are those whose
    fingerprint is new or different in the rebuild, or every month when a product is sold for the
    first time (outside the covered products); the log line `market_basket__pair_counts: N of M
    months touched` says so.
The steps: new orders for existing people, a product's first sale, a past order refunded, new identify
events (one carrying only an anonymous_id), a link merging two profiles with orders, a super-connector
split, a profile that vanishes (its only user_id becomes a shared account), a product re-categorised,
and no change at all.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from tests.support.dbt_duckdb import copy_warehouse, dbt, load, query
from tests.support.marts_fixtures import make_landing

pytestmark = pytest.mark.slow  # a dozen dbt runs of the whole project

FEATURES = "marts.dim_customers__features"
ORDERS = "marts.fct_orders"
ORDERS_TOUCHED = re.compile(r"fct_orders: (\d+) of (\d+) orders touched")
IDENTIFY_HEADER = ["id", "anonymous_id", "user_id", "timestamp", "received_at", "context_traits_email",
                   "context_library_name"]
ORDER_HEADER = ["order_id", "user_id", "status", "ordered_at", "revenue_usd", "subtotal_usd",
                "refund_amount_usd", "coupon_code"]
ITEM_HEADER = ["order_item_id", "order_id", "product_id", "design_id", "quantity", "unit_price_usd"]
TOUCHED = re.compile(r"dim_customers__features: (\d+) of (\d+) profiles touched")
PAIR_COUNTS = "analytics.market_basket__pair_counts"
PRODUCT_CUSTOMERS = "analytics.product_performance__customers"
CUSTOMERS_TOUCHED = re.compile(r"product_performance__customers: (\d+) of (\d+) profiles touched")
MONTHS_TOUCHED = re.compile(r"market_basket__pair_counts: (\d+) of (\d+) months touched")
PRODUCT_HEADER = ["product_id", "product_name", "product_style", "product_color", "canvas_group", "is_apparel"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class Landing:
    """The landing directory and what the steps need to know of it."""

    root: Path
    files: int = 0
    events: int = 0

    def rows(self, source: str) -> list[dict[str, str]]:
        return [row for path in sorted((self.root / source).glob("*.csv")) for row in read_csv(path)]

    def add(self, source: str, header: list[str], rows: list[dict[str, str]]) -> None:
        """A new file of the source (a later file wins for a primary key it repeats)."""
        self.files += 1
        write_csv(self.root / source / f"part-step{self.files:02d}.csv", header, rows)

    def identify(self, pairs: list[tuple[str | None, str | None]], sdk: str = "js") -> None:
        rows = []
        for anonymous_id, user_id in pairs:
            self.events += 1
            rows.append({"id": f"{sdk}-step-{self.events:05d}", "anonymous_id": anonymous_id or "",
                         "user_id": user_id or "", "timestamp": "2026-10-20T09:00:00Z",
                         "received_at": "2026-10-20T09:00:01Z", "context_traits_email": "",
                         "context_library_name": "analytics.js" if sdk == "js" else "analytics-ruby"})
        self.add(f"identifies_{sdk}", IDENTIFY_HEADER, rows)

    def anonymous_ids_of(self, user_id: str) -> list[str]:
        rows = self.rows("identifies_js") + self.rows("identifies_ruby")
        return sorted({r["anonymous_id"] for r in rows if r["user_id"] == user_id and r["anonymous_id"]})


@dataclass
class Change:
    """What a step changed: ids whose rows it wrote and products it re-categorised."""

    user_ids: set[str] = field(default_factory=set)
    anonymous_ids: set[str] = field(default_factory=set)
    products: set[str] = field(default_factory=set)


# --- the steps ------------------------------------------------------------------------------------


def new_orders(landing: Landing) -> Change:
    user = "u00060"
    landing.add("orders", ORDER_HEADER, [
        {"order_id": "o-step-1", "user_id": user, "status": "completed", "ordered_at": "2026-10-25T10:00:00Z",
         "revenue_usd": "64.97", "subtotal_usd": "59.98", "refund_amount_usd": "", "coupon_code": "SAVE10"},
    ])
    landing.add("order_items", ITEM_HEADER, [
        {"order_item_id": "i-step-1", "order_id": "o-step-1", "product_id": "p003", "design_id": "d004",
         "quantity": "3", "unit_price_usd": "9.99"},
        {"order_item_id": "i-step-2", "order_id": "o-step-1", "product_id": "p010", "design_id": "",
         "quantity": "1", "unit_price_usd": "29.99"},
    ])
    return Change(user_ids={user})


def first_sale(landing: Landing) -> Change:
    """A new catalogue product, sold for the first time: market_basket's covered products lack it."""
    user = "u00070"
    landing.add("products", PRODUCT_HEADER, [
        {"product_id": "p-step-new", "product_name": "New mug", "product_style": "classic",
         "product_color": "white", "canvas_group": "home", "is_apparel": "false"},
    ])
    landing.add("orders", ORDER_HEADER, [
        {"order_id": "o-step-2", "user_id": user, "status": "completed", "ordered_at": "2026-10-26T10:00:00Z",
         "revenue_usd": "24.98", "subtotal_usd": "24.98", "refund_amount_usd": "", "coupon_code": ""},
    ])
    landing.add("order_items", ITEM_HEADER, [
        {"order_item_id": "i-step-3", "order_id": "o-step-2", "product_id": "p-step-new", "design_id": "d004",
         "quantity": "1", "unit_price_usd": "14.99"},
        {"order_item_id": "i-step-4", "order_id": "o-step-2", "product_id": "p003", "design_id": "",
         "quantity": "1", "unit_price_usd": "9.99"},
    ])
    return Change(user_ids={user})


def refund(landing: Landing) -> Change:
    order = next(o for o in landing.rows("orders") if o["user_id"] >= "u00050" and o["status"] == "completed")
    landing.add("orders", ORDER_HEADER, [{**order, "status": "refunded", "refund_amount_usd": order["revenue_usd"]}])
    return Change(user_ids={order["user_id"]})


def new_identify_events(landing: Landing) -> Change:
    known = landing.anonymous_ids_of("u00040")[0]
    landing.identify([("a-step-30", "u00030")], sdk="js")
    # no user_id: the event is the profile's through its anonymous_id
    landing.identify([(known, None), (None, "u00030")], sdk="ruby")
    return Change(user_ids={"u00030"}, anonymous_ids={"a-step-30", known})


def merge(landing: Landing) -> Change:
    anonymous_id = landing.anonymous_ids_of("u00012")[0]
    landing.identify([(anonymous_id, "u00013")])
    return Change(user_ids={"u00012", "u00013"}, anonymous_ids={anonymous_id})


def super_connector(landing: Landing) -> Change:
    """The only device both accounts of a person share sees five more user_ids: it is excluded and the
    person's profile splits in two."""
    events = landing.rows("identifies_js") + landing.rows("identifies_ruby")
    for c in range(20, 300, 5):
        user_ids = {f"u{c:05d}", f"sha{c:05d}"}
        shared = {a for a in {e["anonymous_id"] for e in events if e["user_id"] in user_ids}
                  if {e["user_id"] for e in events if e["anonymous_id"] == a} >= user_ids}
        if c % 11 and len(shared) == 1:
            break
    else:
        raise AssertionError("no profile held together by one device")
    (anonymous_id,) = shared
    newcomers = {f"u-step-sc-{k}" for k in range(5)}
    landing.identify([(anonymous_id, u) for u in sorted(newcomers)])
    return Change(user_ids=user_ids | newcomers, anonymous_ids={anonymous_id})


def vanish(landing: Landing) -> Change:
    """u00022 (no orders, one user_id) is seen on 101 new devices: excluded as a shared account, its
    profile disappears."""
    landing.identify([(f"a-step-flood-{k}", "u00022") for k in range(101)])
    return Change(user_ids={"u00022"}, anonymous_ids={f"a-step-flood-{k}" for k in range(101)})


def recategorise(landing: Landing) -> Change:
    product = next(p for p in landing.rows("products") if p["product_id"] == "p005")
    landing.add("products", list(product), [{**product, "canvas_group": "limited-edition",
                                             "product_style": "zigzag", "is_apparel": "false"}])
    return Change(products={"p005"})


def no_change(landing: Landing) -> Change:
    return Change()


STEPS: list[Callable[[Landing], Change]] = [
    new_orders, first_sale, refund, new_identify_events, merge, super_connector, vanish, recategorise, no_change,
]


# --- running and comparing -------------------------------------------------------------------------


COMPARED = {"marts.dim_customers": ["user_main_id"], FEATURES: ["user_main_id"],
            "marts.fct_order_items": ["order_item_id"], ORDERS: ["order_id"],
            "analytics.market_basket": ["product_a_id", "product_b_id"],
            PAIR_COUNTS: ["order_month", "product_a_id", "product_b_id"],
            "analytics.product_performance": ["product_id"], PRODUCT_CUSTOMERS: ["user_main_id", "product_id"]}


def table(warehouse: Path, name: str) -> pd.DataFrame:
    frame = query(warehouse, f"select * from {name}")
    return frame.drop(columns=["dbt_invocation_id"], errors="ignore").sort_values(COMPARED[name]).reset_index(
        drop=True)


def stamps(warehouse: Path) -> dict[str, str]:
    return dict(query(warehouse, f"select user_main_id, dbt_invocation_id from {FEATURES}").itertuples(index=False))


def fingerprints(warehouse: Path) -> dict[str, str]:
    return dict(query(warehouse, f"select user_main_id, inputs_fingerprint from {FEATURES}").itertuples(index=False))


def month_states(warehouse: Path, column: str) -> dict:
    """Per month of market_basket__pair_counts: its dbt_invocation_id or month_fingerprint."""
    return dict(query(warehouse, f"select distinct order_month, {column} from {PAIR_COUNTS}").itertuples(index=False))


def buyer_stamps(warehouse: Path) -> dict[str, str]:
    return dict(query(warehouse, f"select distinct user_main_id, dbt_invocation_id from {PRODUCT_CUSTOMERS}")
                .itertuples(index=False))


def order_stamps(warehouse: Path) -> dict[str, str]:
    return dict(query(warehouse, f"select order_id, dbt_invocation_id from {ORDERS}").itertuples(index=False))


def order_rows(warehouse: Path) -> dict[str, str]:
    """Per order of fct_orders, its row but for the invocation stamp (as text: nulls compare equal)."""
    frame = query(warehouse, f"select * from {ORDERS}").drop(columns=["dbt_invocation_id"])
    return {row.order_id: str(tuple(row)) for row in frame.itertuples(index=False)}


def changed_keys(before: dict, after: dict) -> set:
    return {key for key, value in after.items() if before.get(key) != value}


Reader = Callable[[str], pd.DataFrame]  # runs a query on one warehouse, lower-case column names
GRAPH = "select user_main_id, other_id_type, other_id from stitching.user_id_stitcher"


def duckdb_reader(warehouse: Path) -> Reader:
    return lambda sql: query(warehouse, sql)


def members(graph: pd.DataFrame) -> dict[str, frozenset]:
    return {m: frozenset(zip(g.other_id_type, g.other_id, strict=True)) for m, g in graph.groupby("user_main_id")}


def allowed(read_after: Reader, graph_before: pd.DataFrame, change: Change) -> set[str]:
    """Profiles (after the step) the change may touch: those holding an id it wrote rows for, those
    that bought a product it re-categorised, and those whose members changed."""
    graph = read_after(GRAPH)
    mine = graph[((graph.other_id_type == "user_id") & graph.other_id.isin(change.user_ids))
                 | ((graph.other_id_type == "anonymous_id") & graph.other_id.isin(change.anonymous_ids))]
    buyers = read_after("select distinct p.user_main_id, i.product_id from marts.fct_order_items i "
                        "join stitching.int_user_id_profiles p on i.user_id = p.user_id "
                        "where i.order_status = 'completed'")
    old = set(members(graph_before).items())
    moved = {m for m, ids in members(graph).items() if (m, ids) not in old}
    return set(mine.user_main_id) | set(buyers[buyers.product_id.isin(change.products)].user_main_id) | moved


def log_since(log: Path, start: int) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[start:] if log.exists() else ""


def test_incremental_steps_recompute_only_touched_profiles_and_equal_a_full_rebuild(tmp_path: Path) -> None:
    landing = Landing(make_landing(tmp_path / "landing", customers=120, seed=42))
    incremental, runs = tmp_path / "incremental.duckdb", tmp_path / "runs"
    log = runs / "logs" / "dbt.log"
    load(landing.root, incremental)
    dbt(incremental, runs, "build")
    previous_rebuild = tmp_path / "rebuild-0.duckdb"
    copy_warehouse(incremental, previous_rebuild)
    profiles_before = len(stamps(incremental))

    recomputed_per_step = {}
    for number, step in enumerate(STEPS, start=1):
        where = f"step {number} ({step.__name__})"
        change = step(landing)
        load(landing.root, incremental)
        rebuild = tmp_path / f"rebuild-{number}.duckdb"
        copy_warehouse(incremental, rebuild)  # the same raw data, rebuilt from scratch below
        before, months_before = stamps(incremental), month_states(incremental, "dbt_invocation_id")
        buyers_before, orders_before = buyer_stamps(incremental), order_stamps(incremental)
        start = log.stat().st_size if log.exists() else 0
        dbt(incremental, runs, "run")
        logged = TOUCHED.findall(log_since(log, start))
        logged_orders = ORDERS_TOUCHED.findall(log_since(log, start))
        logged_months = MONTHS_TOUCHED.findall(log_since(log, start))
        logged_customers = CUSTOMERS_TOUCHED.findall(log_since(log, start))
        dbt(rebuild, tmp_path / "rebuild-runs", "run", "--full-refresh")

        for name in COMPARED:
            pd.testing.assert_frame_equal(table(incremental, name), table(rebuild, name), obj=f"{where}: {name}")

        after = stamps(incremental)
        recomputed = {m for m, stamp in after.items() if before.get(m) != stamp}
        old_prints, new_prints = fingerprints(previous_rebuild), fingerprints(rebuild)
        changed = {m for m, p in new_prints.items() if old_prints.get(m) != p}
        assert recomputed == changed, f"{where}: recomputed {sorted(recomputed ^ changed)[:5]} wrongly"
        outside = recomputed - allowed(duckdb_reader(rebuild), query(previous_rebuild, GRAPH), change)
        assert not outside, f"{where}: profiles recomputed that the step did not touch: {sorted(outside)[:5]}"
        assert logged == [(str(len(recomputed)), str(len(after)))], f"{where}: log {logged}"
        if step is no_change:
            assert not recomputed, where
        elif step is vanish:  # nothing to recompute: the profile's row is deleted
            assert set(before) - set(after), f"{where}: no row deleted"
        else:
            assert recomputed, f"{where}: nothing recomputed"
            assert len(recomputed) <= len(after) // 4, f"{where}: {len(recomputed)} of {len(after)} recomputed"
        recomputed_per_step[step.__name__] = len(recomputed)

        # fct_orders writes exactly the orders whose row differs from the stored one
        orders_after = order_stamps(incremental)
        rewritten = changed_keys(orders_before, orders_after)
        differing = changed_keys(order_rows(previous_rebuild), order_rows(rebuild))
        assert rewritten == differing, f"{where}: orders written {sorted(rewritten ^ differing)[:5]} wrongly"
        assert logged_orders == [(str(len(rewritten)), str(len(orders_after)))], f"{where}: log {logged_orders}"
        assert len(rewritten) < len(orders_after), f"{where}: every order rewritten"
        if step is no_change:
            assert not rewritten, where
        elif step in (new_orders, refund, merge, recategorise):
            assert rewritten, f"{where}: no order rewritten"

        months_after = month_states(incremental, "dbt_invocation_id")
        recounted = changed_keys(months_before, months_after)
        if step is first_sale:
            assert recounted == set(months_after), f"{where}: a first sale recounts every month, not {recounted}"
        else:
            changed_months = changed_keys(month_states(previous_rebuild, "month_fingerprint"),
                                          month_states(rebuild, "month_fingerprint"))
            assert recounted == changed_months, f"{where}: months recounted {recounted}, changed {changed_months}"
            assert len(recounted) < len(months_after), f"{where}: every month recounted"
        assert logged_months == [(str(len(recounted)), str(len(months_after)))], f"{where}: log {logged_months}"
        if step in (refund, recategorise):
            assert recounted, f"{where}: no month recounted"

        # product_performance's reach: only buyers among the recomputed profiles are recomputed
        buyers_after = buyer_stamps(incremental)
        recomputed_buyers = changed_keys(buyers_before, buyers_after)
        assert recomputed_buyers <= recomputed, f"{where}: {sorted(recomputed_buyers - recomputed)[:5]}"
        assert logged_customers == [(str(len(recomputed_buyers)), str(len(buyers_after)))], where
        previous_rebuild = rebuild

    # the steps did what they say (or the comparisons above prove little)
    def profile_of(number: int, user_id: str) -> str | None:
        found = query(tmp_path / f"rebuild-{number}.duckdb",
                      f"select user_main_id from stitching.int_user_id_profiles where user_id = '{user_id}'")
        return found.user_main_id[0] if len(found) else None

    def step_number(step: Callable[[Landing], Change]) -> int:
        return STEPS.index(step) + 1

    merged, split_at, vanished = step_number(merge), step_number(super_connector), step_number(vanish)
    assert profile_of(merged - 1, "u00012") != profile_of(merged - 1, "u00013")
    assert profile_of(merged, "u00012") == profile_of(merged, "u00013")
    split = [c for c in range(20, 300, 5) if profile_of(split_at - 1, f"u{c:05d}") != profile_of(split_at, f"u{c:05d}")
             and profile_of(split_at, f"u{c:05d}") != profile_of(split_at, f"sha{c:05d}")]
    assert split, "the super-connector split no profile"
    assert profile_of(vanished - 1, "u00022") and profile_of(vanished, "u00022") is None, "u00022 did not vanish"
    assert recomputed_per_step["recategorise"] >= 3, recomputed_per_step
    assert len(stamps(incremental)) != profiles_before



# --- the same on Snowflake SQL (the emulator) ------------------------------------------------------


def test_one_incremental_step_on_snowflake_sql_via_fakesnow(tmp_path: Path, snowflake_emulator) -> None:
    """A full build, then one incremental run over several changes at once (new orders, a refund, a
    merge, a re-categorised product), on one emulator database; a full build of the changed data on
    another. dim_customers and its state must be equal, and only the touched profiles recomputed."""
    from contextlib import closing

    from include.contracts import load_sources
    from include.loading.snowflake_loader import load_source_snowflake
    from include.warehouse.snowflake import snowflake_hook
    from tests.support.snowflake_dbt import build_on_snowflake, run_dbt, snowflake_deployment, snowflake_profile

    landing = Landing(make_landing(tmp_path / "landing", customers=60, seed=42))

    def read(database: str, sql: str) -> pd.DataFrame:
        with snowflake_deployment(snowflake_emulator, database, tmp_path), \
                closing(snowflake_hook().get_conn()) as conn, closing(conn.cursor()) as cur:
            cur.execute(sql)
            return pd.DataFrame(cur.fetchall(), columns=[c[0].lower() for c in cur.description])

    work = tmp_path / "incremental"
    first = build_on_snowflake(snowflake_emulator, work, landing.root, "c360_marts_inc", ("build-1",))
    assert first["build-1"]["returncode"] == 0, first["build-1"]["output"]
    before = read("c360_marts_inc", f"select user_main_id, dbt_invocation_id, inputs_fingerprint from {FEATURES}")
    graph_before = read("c360_marts_inc", GRAPH)
    months_sql = f"select distinct order_month, dbt_invocation_id, month_fingerprint from {PAIR_COUNTS}"
    months_before = read("c360_marts_inc", months_sql)

    change = Change()
    for step in (new_orders, refund, merge, recategorise):
        made = step(landing)
        change.user_ids |= made.user_ids
        change.anonymous_ids |= made.anonymous_ids
        change.products |= made.products
    with snowflake_deployment(snowflake_emulator, "c360_marts_inc", work):
        for source in load_sources().values():
            load_source_snowflake(source, landing.root, "load-2")
        profiles, env = snowflake_profile(work)
        second = run_dbt(work / "dbt", profiles, "prod", env, "build-2", "c360_marts_inc")
    assert second["returncode"] == 0, second["output"]
    logged = TOUCHED.findall((work / "logs-build-2" / "dbt.log").read_text(encoding="utf-8", errors="replace"))

    rebuilt = build_on_snowflake(snowflake_emulator, tmp_path / "rebuild", landing.root, "c360_marts_full",
                                 ("build-1",))
    assert rebuilt["build-1"]["returncode"] == 0, rebuilt["build-1"]["output"]

    def customers(database: str) -> pd.DataFrame:
        return read(database, "select * from marts.dim_customers order by user_main_id")

    pd.testing.assert_frame_equal(customers("c360_marts_inc"), customers("c360_marts_full"))

    def order_items(database: str) -> pd.DataFrame:
        return read(database, "select * from marts.fct_order_items order by order_item_id")

    pd.testing.assert_frame_equal(order_items("c360_marts_inc"), order_items("c360_marts_full"))

    def orders(database: str) -> pd.DataFrame:
        return read(database, f"select * from {ORDERS} order by order_id").drop(columns=["dbt_invocation_id"])

    pd.testing.assert_frame_equal(orders("c360_marts_inc"), orders("c360_marts_full"))
    logged_orders = ORDERS_TOUCHED.findall((work / "logs-build-2" / "dbt.log").read_text(encoding="utf-8",
                                                                                          errors="replace"))
    assert len(logged_orders) == 1 and 0 < int(logged_orders[0][0]) < int(logged_orders[0][1]), logged_orders

    def features(database: str) -> pd.DataFrame:
        return read(database, f"select * from {FEATURES} order by user_main_id").drop(columns=["dbt_invocation_id"])

    # the state too, fingerprints included: hash_sum is exact on the emulator as on Snowflake
    pd.testing.assert_frame_equal(features("c360_marts_inc"), features("c360_marts_full"))
    after = read("c360_marts_inc", f"select user_main_id, dbt_invocation_id from {FEATURES}")
    stamp_before = dict(zip(before.user_main_id, before.dbt_invocation_id, strict=True))
    recomputed = {m for m, s in after.itertuples(index=False) if stamp_before.get(m) != s}
    changed_prints = {m for m, p in read("c360_marts_full", f"select user_main_id, inputs_fingerprint from {FEATURES}")
                      .itertuples(index=False)
                      if m not in set(before.user_main_id)
                      or before.set_index("user_main_id").inputs_fingerprint[m] != p}
    assert recomputed == changed_prints, sorted(recomputed ^ changed_prints)[:5]
    touched = allowed(lambda sql: read("c360_marts_full", sql), graph_before, change)
    assert recomputed and not recomputed - touched, sorted(recomputed - touched)[:5]
    assert len(recomputed) < len(after), (len(recomputed), len(after))
    assert logged == [(str(len(recomputed)), str(len(after)))], logged

    # market_basket and its state: only the months whose fingerprint changed are recounted
    for name in ("analytics.market_basket", PAIR_COUNTS, "analytics.product_performance", PRODUCT_CUSTOMERS):
        keys = ", ".join(COMPARED[name])
        pd.testing.assert_frame_equal(
            read("c360_marts_inc", f"select * from {name} order by {keys}").drop(columns=["dbt_invocation_id"],
                                                                              errors="ignore"),
            read("c360_marts_full", f"select * from {name} order by {keys}").drop(columns=["dbt_invocation_id"],
                                                                               errors="ignore"), obj=name)
    months_after = read("c360_marts_inc", months_sql)
    recounted = changed_keys(dict(zip(months_before.order_month, months_before.dbt_invocation_id, strict=True)),
                             dict(zip(months_after.order_month, months_after.dbt_invocation_id, strict=True)))
    rebuilt_months = read("c360_marts_full", months_sql)
    changed_months = changed_keys(dict(zip(months_before.order_month, months_before.month_fingerprint, strict=True)),
                                  dict(zip(rebuilt_months.order_month, rebuilt_months.month_fingerprint, strict=True)))
    assert recounted == changed_months and 0 < len(recounted) < len(months_after), (recounted, changed_months)
