"""The contracts the loader reads are the shared ones, parsed the way a client reads them."""

from __future__ import annotations

import pytest

from include import settings
from include.contracts import load_sources

SHARED = settings.PROJECT_ROOT.parent / "shared" / "contracts"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside this checkout")
@pytest.mark.parametrize("name", ["sources.yml", "outputs.yml"])
def test_vendored_contracts_match_shared(name: str) -> None:
    vendored = settings.PROJECT_ROOT / "include" / "contracts" / name
    assert vendored.read_text() == (SHARED / name).read_text(), f"copy ../shared/contracts/{name} to {vendored}"


def test_sources_contract_is_parsed_with_its_rules() -> None:
    sources = load_sources()
    assert set(sources) == {"identifies_js", "identifies_ruby", "orders", "order_items", "products", "designs"}
    assert sources["identifies_ruby"].columns == sources["identifies_js"].columns  # same_columns_as
    orders = {c.name: c for c in sources["orders"].columns}
    assert orders["status"].accepted_values == ("completed", "cancelled", "refunded")
    assert orders["revenue_usd"].duckdb_type == "decimal(18,2)" and orders["revenue_usd"].required
    assert not orders["coupon_code"].required
    items = {c.name: c for c in sources["order_items"].columns}
    assert items["quantity"].min_value == 1 and items["quantity"].duckdb_type == "bigint"
    assert sources["order_items"].primary_key == "order_item_id"
