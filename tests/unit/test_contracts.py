"""The vendored contracts are the ones the code and the tests read; they may extend the team's shared
contracts (new tables, columns, sources), never contradict them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from include import settings
from include.contracts import load_sources

SHARED = settings.PROJECT_ROOT.parent / "shared" / "contracts"


def contradictions(shared: Any, vendored: Any, where: str = "") -> list[str]:
    """Where `vendored` fails to hold everything `shared` says: every key of a mapping must be there
    with a value that holds it in turn; scalars and lists (accepted values) must be equal."""
    if isinstance(shared, dict):
        if not isinstance(vendored, dict):
            return [f"{where or '/'}: a mapping in ../shared, {type(vendored).__name__} in the vendored copy"]
        return [
            problem
            for key, value in shared.items()
            for problem in (
                contradictions(value, vendored[key], f"{where}/{key}") if key in vendored
                else [f"{where}/{key}: missing from the vendored copy"]
            )
        ]
    return [] if shared == vendored else [f"{where}: ../shared says {shared!r}, the vendored copy {vendored!r}"]


def test_a_superset_holds_what_it_extends_and_a_contradiction_is_named() -> None:
    shared = {"tables": {"a": {"columns": {"x": {"type": "string"}}, "grain": "one row per x"}}}
    extended = {"tables": {"a": {"columns": {"x": {"type": "string"}, "y": {}}, "grain": "one row per x"},
                           "b": {"columns": {}}}}
    assert contradictions(shared, extended) == []
    changed = {"tables": {"a": {"columns": {"y": {}}, "grain": "one row per y"}}}
    assert contradictions(shared, changed) == [
        "/tables/a/columns/x: missing from the vendored copy",
        "/tables/a/grain: ../shared says 'one row per x', the vendored copy 'one row per y'",
    ]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside this checkout (a user's clone)")
@pytest.mark.parametrize("name", ["sources.yml", "outputs.yml"])
def test_vendored_contracts_extend_shared_without_contradicting_it(name: str) -> None:
    shared = yaml.safe_load((SHARED / name).read_text())
    vendored = yaml.safe_load((settings.CONTRACTS_DIR / name).read_text())
    assert contradictions(shared, vendored) == [], f"include/contracts/{name} contradicts ../shared/contracts/{name}"


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
