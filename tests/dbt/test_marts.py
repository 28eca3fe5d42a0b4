"""The marts on real files: features recomputed independently in pandas from the landing files (+
the stitcher's identity graph) match marts.with_user_id for every user_id, and an incremental run
over changed sources equals a full refresh.

One warehouse is built per module (make_landing -> loader -> dbt build in-process).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from include.contracts import load_sources
from tests.support.dbt_duckdb import REFERENCE_DATE, copy_warehouse, dbt, load, query
from tests.support.marts_fixtures import make_landing

pytestmark = pytest.mark.slow  # dbt builds of the whole project, full and incremental

PRIMARY_KEYS = {name: source.primary_key for name, source in load_sources().items()}
MART_TABLES = {
    "marts.fct_order_items": ["order_item_id"],
    "marts.fct_identify_events": ["identify_event_key"],
    "marts.fct_orders": ["order_id"],
    "marts.dim_products": ["product_design_key"],
    "marts.dim_customers": ["user_main_id"],
    "marts.with_user_id": ["user_id"],
    "analytics.customer_rfm": ["user_main_id"],
    "analytics.product_performance": ["product_id"],
    "analytics.market_basket": ["product_a_id", "product_b_id"],
    "analytics.kpi_summary": ["kpi_name"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    """(landing dir, warehouse file, scratch dir) after one full dbt build."""
    tmp = tmp_path_factory.mktemp("marts")
    landing = make_landing(tmp / "landing", customers=300, seed=42)
    warehouse = tmp / "warehouse.duckdb"
    load(landing, warehouse)
    dbt(warehouse, tmp, "build")
    yield landing, warehouse, tmp


# --- the independent computation -------------------------------------------------------------


def read_source(landing: Path, warehouse: Path, source: str) -> pd.DataFrame:
    """A source as the loader keeps it, rebuilt from the files: every row of every file (all text),
    minus the rows the loader rejected (audit.rejected_rows), then one row per primary key, the
    last file and row winning."""
    frames = []
    for path in sorted((landing / source).iterdir()):
        if path.suffix == ".csv":
            with path.open(newline="") as handle:
                frame = pd.DataFrame(list(csv.DictReader(handle)), dtype=object)
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path).astype(object)
        else:
            continue
        frame["_file_name"] = path.name
        frame["_row_number"] = range(1, len(frame) + 1)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    rejected = query(warehouse, f"select file_name, row_number from audit.rejected_rows where source = '{source}'")
    keep = ~pd.MultiIndex.from_frame(data[["_file_name", "_row_number"]]).isin(
        pd.MultiIndex.from_frame(rejected[["file_name", "row_number"]].astype({"row_number": int}))
    )
    key = PRIMARY_KEYS[source]
    data = data[keep].sort_values(["_file_name", "_row_number"])
    data[key] = data[key].map(lambda v: v.strip())
    return data.drop_duplicates(key, keep="last").reset_index(drop=True)


def blank_to_none(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def expected_features(landing: Path, warehouse: Path) -> pd.DataFrame:
    """A handful of with_user_id features per user_id, from the landing files and the stitcher."""
    graph = query(warehouse, "select user_main_id, other_id, other_id_type from stitching.user_id_stitcher")
    profile_of = graph[graph.other_id_type == "user_id"].set_index("other_id").user_main_id

    orders = read_source(landing, warehouse, "orders")
    orders["user_id"] = orders.user_id.map(blank_to_none)
    orders["status"] = orders.status.str.strip().str.lower()
    orders["profile"] = orders.user_id.map(profile_of)
    orders["revenue"] = orders.revenue_usd.astype(float)
    orders["refund"] = orders.refund_amount_usd.map(blank_to_none).astype(float).fillna(0.0)
    orders["coupon"] = orders.coupon_code.map(blank_to_none).notna()
    orders["day"] = pd.to_datetime(orders.ordered_at.str.strip(), utc=True, format="ISO8601").dt.date
    completed = orders[orders.status == "completed"]
    refunded = orders[orders.status == "refunded"]

    products = read_source(landing, warehouse, "products")
    apparel_flag = products.is_apparel.map(blank_to_none).map({"true": True, "false": False})
    from_group = products.canvas_group.str.strip().str.lower() == "apparel"
    products["apparel"] = apparel_flag.where(apparel_flag.notna(), from_group)
    designs = read_source(landing, warehouse, "designs")
    designs["theme"] = designs.theme.map(blank_to_none).str.lower()
    items = read_source(landing, warehouse, "order_items")
    items["quantity"] = items.quantity.astype(int)
    items["design_id"] = items.design_id.map(blank_to_none)
    items = (
        items.merge(completed[["order_id", "profile"]], on="order_id")
        .merge(products[["product_id", "apparel"]], on="product_id", how="left")
        .merge(designs[["design_id", "theme"]], on="design_id", how="left")
    )
    items["apparel_quantity"] = items.quantity.where(items.apparel.fillna(False).astype(bool), 0)

    themes = items.dropna(subset=["theme"]).groupby(["profile", "theme"]).quantity.sum().reset_index()
    themes = themes.sort_values(["profile", "quantity", "theme"], ascending=[True, False, True])
    reference = date.fromisoformat(REFERENCE_DATE)

    by_profile = pd.DataFrame({
        "total_orders": completed.groupby("profile").size(),
        "lifetime_revenue_usd": completed.groupby("profile").revenue.sum(),
        "first_order_date": completed.groupby("profile").day.min(),
        "last_order_date": completed.groupby("profile").day.max(),
        "has_used_coupon": completed.groupby("profile").coupon.any(),
        "total_refund_amount_usd": refunded.groupby("profile").refund.sum(),
        "total_order_items": items.groupby("profile").quantity.sum(),
        "total_apparel_items": items.groupby("profile").apparel_quantity.sum(),
        "favorite_theme": themes.drop_duplicates("profile").set_index("profile").theme,
        "count_user_ids": graph[graph.other_id_type == "user_id"].groupby("user_main_id").size(),
        "count_anonymous_ids": graph[graph.other_id_type == "anonymous_id"].groupby("user_main_id").size(),
    })
    expected = profile_of.rename("user_main_id").rename_axis("user_id").reset_index()
    expected = expected.join(by_profile, on="user_main_id")
    for column in ["total_orders", "lifetime_revenue_usd", "total_refund_amount_usd", "total_order_items",
                   "total_apparel_items", "count_user_ids", "count_anonymous_ids"]:
        expected[column] = expected[column].fillna(0)
    expected["has_used_coupon"] = expected.has_used_coupon.fillna(False).astype(bool)
    expected["is_repeat_buyer"] = expected.total_orders > 1
    expected["days_since_last_order"] = expected.last_order_date.map(
        lambda d: None if pd.isna(d) else (reference - d).days
    )
    return expected.set_index("user_id").sort_index()


# --- tests -----------------------------------------------------------------------------------


def test_with_user_id_matches_an_independent_pandas_computation(built: tuple[Path, Path, Path]) -> None:
    landing, warehouse, _ = built
    expected = expected_features(landing, warehouse)
    actual = query(warehouse, f"select {', '.join(['user_id', *expected.columns])} from marts.with_user_id")
    actual = actual.set_index("user_id").sort_index()

    # The fixture must exercise what is being compared, or equality proves nothing.
    assert len(expected) > 300
    assert (expected.count_user_ids > 1).sum() >= 20, "no multi-user_id profiles"
    assert (expected.total_orders == 0).sum() >= 10, "no profiles without orders"
    assert (expected.total_refund_amount_usd > 0).sum() >= 10, "no refunds"

    assert list(actual.index) == list(expected.index), "with_user_id is not one row per user_id of the graph"
    for column in expected.columns:
        want, got = expected[column], actual[column]
        if column in ("first_order_date", "last_order_date"):
            got = got.map(lambda v: None if pd.isna(v) else pd.Timestamp(v).date())
            want = want.map(lambda v: None if pd.isna(v) else v)
        if column in ("lifetime_revenue_usd", "total_refund_amount_usd"):
            mismatched = (want.astype(float) - got.astype(float)).abs() > 0.005
        else:
            mismatched = ~((want == got) | (want.isna() & got.isna()))
        assert not mismatched.any(), (
            f"{column} differs for {mismatched.sum()} user_ids, e.g.\n"
            + pd.DataFrame({"expected": want[mismatched], "actual": got[mismatched]}).head().to_string()
        )


def snapshot(warehouse: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for table, key in MART_TABLES.items():
        # which invocation wrote a row is not its content
        frame = query(warehouse, f"select * from {table}").drop(columns=["dbt_invocation_id"], errors="ignore")
        tables[table] = frame.sort_values(key).reset_index(drop=True)
    return tables


def change_sources(landing: Path) -> None:
    """Changes an append-only pipeline must still get right: new orders, items and events in a new
    file, an order refunded after its items were loaded, a product moved to another canvas group,
    and an item withdrawn (its file re-landed without it)."""
    with (landing / "orders" / "part-0.csv").open(newline="") as handle:
        first_order = next(csv.DictReader(handle))
    refunded = {**first_order, "status": "refunded", "refund_amount_usd": first_order["revenue_usd"]}
    new_order = {**first_order, "order_id": "o-new-1", "status": "completed", "ordered_at": "2026-10-30T10:00:00Z"}
    for source, rows in {
        "orders": [refunded, new_order],
        "order_items": [{"order_item_id": "i-new-1", "order_id": "o-new-1", "product_id": "p001",
                         "design_id": "d001", "quantity": "2", "unit_price_usd": "19.99"}],
        "identifies_js": [{"id": "js-new-1", "anonymous_id": "a-new", "user_id": first_order["user_id"],
                           "timestamp": "2026-10-30T09:00:00Z", "received_at": "2026-10-30T09:00:01Z",
                           "context_traits_email": "", "context_library_name": "analytics.js"}],
        "products": [{"product_id": "p002", "product_name": "Product 2", "product_style": "classic",
                      "product_color": "black", "canvas_group": "limited-edition", "is_apparel": "false"}],
    }.items():
        with (landing / source / "part-1.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    items_file = landing / "order_items" / "part-0.csv"
    lines = items_file.read_text().splitlines(keepends=True)
    items_file.write_text("".join(lines[:1] + lines[2:]))


def loaded_changes(built: tuple[Path, Path, Path], name: str) -> tuple[Path, Path]:
    """(landing, warehouse): a copy of the built landing with change_sources applied, loaded into a
    copy of the built warehouse (named after `name`), not yet run through dbt."""
    landing, warehouse, tmp = built
    changed_landing = tmp / f"landing_{name}"
    shutil.copytree(landing, changed_landing)
    change_sources(changed_landing)
    incremental = tmp / f"{name}.duckdb"
    copy_warehouse(warehouse, incremental)
    load(changed_landing, incremental)
    return changed_landing, incremental


def test_incremental_run_equals_full_refresh(built: tuple[Path, Path, Path]) -> None:
    _, warehouse, tmp = built
    _, incremental = loaded_changes(built, "incremental")
    before = query(warehouse, "select count(*) as n from marts.fct_order_items").n[0]

    dbt(incremental, tmp, "run")
    after_incremental = snapshot(incremental)
    dbt(incremental, tmp, "run", "--full-refresh")
    after_full_refresh = snapshot(incremental)

    items = after_incremental["marts.fct_order_items"].set_index("order_item_id")
    assert len(items) == before, "one item added and one withdrawn"
    assert "i-new-1" in items.index
    first_order = items[items.order_id == "o000000"]
    assert set(first_order.order_status) == {"refunded"}, "a refund after loading must reach the items"
    assert set(items[items.product_id == "p002"].canvas_group) == {"limited-edition"}
    for table in MART_TABLES:
        pd.testing.assert_frame_equal(after_incremental[table], after_full_refresh[table], obj=table)


def test_incremental_run_leaves_unchanged_rows_alone(built: tuple[Path, Path, Path]) -> None:
    """Guards the point of being incremental: over unchanged sources, a rerun rewrites no row. A
    value tampered with in place (its file SHAs untouched) survives an incremental run; only a full
    refresh restores it."""
    _, warehouse, tmp = built
    rerun = tmp / "rerun.duckdb"
    copy_warehouse(warehouse, rerun)
    with duckdb.connect(str(rerun)) as con:
        con.execute("update marts.fct_order_items set product_name = 'tampered' where order_item_id = 'i0000000'")
        con.execute("update marts.fct_identify_events set library_name = 'tampered' "
                    "where identify_event_key = (select min(identify_event_key) from marts.fct_identify_events)")
        # an order's line totals are kept while its lines' count and fingerprint are unchanged
        con.execute("update marts.fct_orders set item_quantity = -1 where order_id = 'o000000'")
    tampered = """select (select count(*) from marts.fct_order_items where product_name = 'tampered')
                       + (select count(*) from marts.fct_identify_events where library_name = 'tampered')
                       + (select count(*) from marts.fct_orders where item_quantity = -1) as n"""
    models = ("fct_order_items", "fct_identify_events", "fct_orders")

    dbt(rerun, tmp, "run", "--select", *models)
    assert query(rerun, tampered).n[0] == 3
    dbt(rerun, tmp, "run", "--select", *models, "--full-refresh")
    assert query(rerun, tampered).n[0] == 0


@pytest.mark.parametrize("state", ["from before the state columns", "written by other code"])
def test_order_items_state_not_of_this_code_is_rewritten_whole(built: tuple[Path, Path, Path], state: str) -> None:
    """A warehouse upgraded from an fct_order_items without the SHA columns (every production one),
    or whose lines another version of the code wrote, must not be trusted: the incremental run
    rewrites every line (a tampered value goes) and equals the full build."""
    _, warehouse, tmp = built
    upgraded = tmp / f"upgraded-{len(state)}.duckdb"
    copy_warehouse(warehouse, upgraded)
    with duckdb.connect(str(upgraded)) as con:
        con.execute("update marts.fct_order_items set product_name = 'tampered' where order_item_id = 'i0000000'")
        if state == "written by other code":
            con.execute("update marts.fct_order_items set inputs_code_hash = 'other code'")
        else:
            for column in ("line_landed_file_sha256", "order_landed_file_sha256", "product_landed_file_sha256",
                           "design_landed_file_sha256", "inputs_code_hash", "line_content_hash"):
                con.execute(f"alter table marts.fct_order_items drop column {column}")

    dbt(upgraded, tmp, "run", "--select", "fct_order_items")
    items = "marts.fct_order_items"
    pd.testing.assert_frame_equal(snapshot(upgraded)[items], snapshot(warehouse)[items], obj=state)


def test_an_order_whose_latest_copy_moves_back_to_an_earlier_file_reaches_its_items(
        built: tuple[Path, Path, Path]) -> None:
    """The refund's file is re-landed without it, so the order's latest copy is the earlier,
    unchanged file's again: no file of that content is new, and only the stored SHA that went tells
    the order's lines to be rewritten."""
    tmp = built[2]
    changed, incremental = loaded_changes(built, "moved_back")
    dbt(incremental, tmp, "run")
    refunded = "select distinct order_status from marts.fct_order_items where order_id = 'o000000'"
    assert list(query(incremental, refunded).order_status) == ["refunded"]

    orders = changed / "orders" / "part-1.csv"
    header, _refund, new_order = orders.read_text().splitlines(keepends=True)
    orders.write_text(header + new_order)
    load(changed, incremental)
    rebuild = tmp / "moved_back_rebuild.duckdb"
    copy_warehouse(incremental, rebuild)
    dbt(incremental, tmp, "run")
    dbt(rebuild, tmp, "run", "--full-refresh")

    assert list(query(incremental, refunded).order_status) != ["refunded"]
    items = "marts.fct_order_items"
    pd.testing.assert_frame_equal(snapshot(incremental)[items], snapshot(rebuild)[items])
