"""Orders and their line items: long-tailed counts, staples, complementary pairs, refunds, coupons."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from include.synthetic.catalogue import Catalogue
from include.synthetic.context import Context
from include.synthetic.people import People
from include.synthetic.schemas import SCHEMAS
from include.synthetic.values import decimals, numbered_ids, pick, sample, timestamps
from include.synthetic.vocabulary import (
    COUPON_CODES,
    ITEMS_MEAN_EXTRA,
    NO_ORDER_SHARE,
    ORDER_STATUS_SHARE,
    ORDER_STATUSES,
    ORDERS_MEAN_EXTRA,
    QUANTITY_SHARE,
    REFERENCE_TS,
    THEMES,
)


def _unique_in_order(rng: np.random.Generator, cat: Catalogue, order: np.ndarray,
                     product: np.ndarray) -> np.ndarray:
    """Redraw repeated products within an order; returns the mask of lines to keep."""
    n_products = cat.price_cents.size
    for _ in range(3):
        key = order * n_products + product
        sort = np.argsort(key, kind="stable")
        dup = np.zeros(key.size, dtype=bool)
        # A stable sort keeps the earliest line first, so an order's first line is never dropped.
        dup[sort[1:]] = key[sort[1:]] == key[sort[:-1]]
        if not dup.any():
            break
        product[dup] = sample(rng, cat.product_cdf, int(dup.sum()))
    key = order * n_products + product
    sort = np.argsort(key, kind="stable")
    dup = np.zeros(key.size, dtype=bool)
    dup[sort[1:]] = key[sort[1:]] == key[sort[:-1]]
    return ~dup


def _order_lines(ctx: Context, rng: np.random.Generator, people: People, order_owner: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Line items: (order index, product, design or -1), grouped by order."""
    cat, n = ctx.catalogue, people.size
    basket = rng.gamma(3.0, ITEMS_MEAN_EXTRA / 3.0, n)
    lines = 1 + rng.poisson(basket[order_owner])
    order = np.repeat(np.arange(order_owner.size), lines)
    owner = order_owner[order]
    first_line = np.zeros(order.size, dtype=bool)
    first_line[np.cumsum(lines) - lines] = True
    product = sample(rng, cat.product_cdf, order.size)
    # People re-buy their staples (Instacart-style reorders) ...
    staples = sample(rng, cat.product_cdf, n * 8).reshape(n, 8)
    use = rng.random(order.size) < 0.3
    product[use] = staples[owner[use], rng.integers(0, 8, int(use.sum()))]
    # ... and complementary pairs land in the same basket.
    pair = np.flatnonzero((rng.random(order.size) < 0.25) & ~first_line)
    product[pair] = cat.partner[product[pair - 1]]
    keep = _unique_in_order(rng, cat, order, product)
    order, owner, product = order[keep], owner[keep], product[keep]
    size = order.size
    design = sample(rng, cat.design_cdf, size)
    favourite = rng.integers(0, len(THEMES), n)[owner]
    fav = np.flatnonzero(rng.random(size) < 0.4)
    chosen = cat.theme_start[favourite[fav]] + np.floor(
        rng.random(fav.size) * cat.theme_count[favourite[fav]]
    ).astype(np.int64)
    design[fav] = cat.designs_by_theme[chosen]
    design[rng.random(size) < 0.1] = -1
    return order, product, design


def order_tables(ctx: Context, rng: np.random.Generator, people: People, until: int = REFERENCE_TS
                 ) -> dict[str, tuple[pa.Table, np.ndarray]]:
    """Orders placed between each person's first-seen instant and `until` (a next day ends there)."""
    cat, n = ctx.catalogue, people.size
    buyer = rng.random(n) >= NO_ORDER_SHARE
    count = np.where(buyer, 1 + rng.poisson(people.engagement * ORDERS_MEAN_EXTRA), 0)
    owner = np.repeat(np.arange(n), count)
    size = owner.size
    at = people.since[owner] + np.floor(
        rng.random(size) * (until - people.since[owner])
    ).astype(np.int64)
    chrono = np.lexsort((at, owner))
    owner, at = owner[chrono], at[chrono]
    user = np.where(people.has_second[owner] & (rng.random(size) < 0.4), owner + n, owner)
    status = rng.choice(len(ORDER_STATUSES), size, p=ORDER_STATUS_SHARE)

    line_order, product, design = _order_lines(ctx, rng, people, owner)
    quantity = 1 + rng.choice(len(QUANTITY_SHARE), line_order.size, p=QUANTITY_SHARE)
    unit = cat.price_cents[product]
    first_line = np.searchsorted(line_order, np.arange(size))
    subtotal = np.add.reduceat(quantity * unit, first_line) if size else np.zeros(0, np.int64)

    coupon = rng.random(size) < 0.15
    tax_rate = rng.choice(np.array([0.0, 0.04, 0.0625, 0.07, 0.0825, 0.0925]), n)[owner]
    tax = np.rint(subtotal * tax_rate).astype(np.int64)
    shipping = np.where((subtotal >= 5_000) | coupon, 0, 599)
    revenue = subtotal + shipping + tax
    refunded = status == 2
    partial = np.floor(revenue * rng.uniform(0.1, 0.9, size)).astype(np.int64)
    refund = np.where(refunded, np.where(rng.random(size) < 0.7, revenue, partial), 0)
    refund_null = ~refunded & (rng.random(size) < 0.7)
    code = np.where(coupon, rng.integers(0, len(COUPON_CODES), size), len(COUPON_CODES))
    code_null = ~coupon & (rng.random(size) < 0.9)  # the rest of the no-coupon rows are ''

    first_order = ctx.counters["orders"]
    ctx.counters["orders"] += size
    order_ids = numbered_ids("o_", np.arange(first_order + 1, first_order + size + 1), 10)
    orders = pa.Table.from_arrays(
        [
            order_ids,
            pick(people.user_ids, user),
            pick(list(ORDER_STATUSES), status),
            timestamps(at),
            decimals(revenue),
            decimals(subtotal),
            decimals(refund, refund_null),
            pick([*COUPON_CODES, ""], code, code_null),
        ],
        schema=SCHEMAS["orders"],
    )
    first_item = ctx.counters["order_items"]
    ctx.counters["order_items"] += line_order.size
    items = pa.Table.from_arrays(
        [
            numbered_ids("oi_", np.arange(first_item + 1, first_item + line_order.size + 1), 12),
            order_ids.take(pa.array(line_order)),
            cat.products.column("product_id").combine_chunks().take(pa.array(product)),
            pick(cat.designs.column("design_id").combine_chunks(), design, design < 0),
            pa.array(quantity, pa.int64()),
            decimals(unit),
        ],
        schema=SCHEMAS["order_items"],
    )
    return {
        "orders": (orders, owner + people.start),
        "order_items": (items, owner[line_order] + people.start),
    }
