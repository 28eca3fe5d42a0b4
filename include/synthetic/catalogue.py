"""The product and design catalogues, with popularity, prices and complementary product pairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.synthetic.schemas import SCHEMAS
from include.synthetic.values import numbered_ids, pick, zipf_cdf
from include.synthetic.vocabulary import (
    CANVAS_GROUPS,
    CANVAS_ITEMS,
    CANVAS_PRICE_DOLLARS,
    CANVAS_SHARE,
    PRODUCT_COLORS,
    PRODUCT_STYLES,
    THEME_GENRES,
    THEMES,
)


@dataclass
class Catalogue:
    products: pa.Table
    designs: pa.Table
    price_cents: np.ndarray
    product_cdf: np.ndarray
    partner: np.ndarray  # the product most often bought with each product
    design_cdf: np.ndarray
    designs_by_theme: np.ndarray  # design indices grouped by theme
    theme_start: np.ndarray
    theme_count: np.ndarray


def _products(rng: np.random.Generator, count: int) -> tuple[pa.Table, np.ndarray]:
    group = rng.choice(len(CANVAS_GROUPS), count, p=CANVAS_SHARE)
    sizes = np.array([len(items) for items in CANVAS_ITEMS])
    item = np.cumsum(sizes)[group] - sizes[group] + rng.integers(0, sizes[group])
    style = rng.integers(0, len(PRODUCT_STYLES), count)
    color = rng.integers(0, len(PRODUCT_COLORS), count)
    low, high = np.array(CANVAS_PRICE_DOLLARS).T
    price_cents = rng.integers(low[group], high[group]) * 100 - 1
    items = [name for names in CANVAS_ITEMS for name in names]
    title = [s.replace("-", " ").title() for s in PRODUCT_STYLES]
    color_title = [c.replace("-", " ").title() for c in PRODUCT_COLORS]
    name = pc.binary_join_element_wise(
        pick(title, style), pick(color_title, color), pick(items, item), " "
    )
    table = pa.Table.from_arrays(
        [
            numbered_ids("p_", np.arange(1, count + 1), 5),
            name,
            pick(PRODUCT_STYLES, style),
            pick(PRODUCT_COLORS, color),
            pick(list(CANVAS_GROUPS), group),
            pa.array(group == 0),
        ],
        schema=SCHEMAS["products"],
    )
    return table, price_cents


def _designs(rng: np.random.Generator, count: int) -> tuple[pa.Table, np.ndarray]:
    # Every theme gets at least one design, so a customer's favourite theme is never empty.
    theme = np.concatenate(
        [np.arange(len(THEMES)), rng.integers(0, len(THEMES), count - len(THEMES))]
    )
    rng.shuffle(theme)
    designers = max(5, count // 8)
    # A skewed draw: several designs per designer, a few prolific designers.
    designer = np.floor(designers * rng.random(count) ** 1.6).astype(np.int64)
    genres = [THEME_GENRES[t] for t in THEMES]
    table = pa.Table.from_arrays(
        [
            numbered_ids("d_", np.arange(1, count + 1), 6),
            numbered_ids("dsgr_", designer + 1, 5),
            pick(list(THEMES), theme),
            pick(genres, theme),
        ],
        schema=SCHEMAS["designs"],
    )
    return table, theme


def build_catalogue(rng: np.random.Generator, num_customers: int) -> Catalogue:
    n_products = min(5_000, 50 + num_customers // 100)
    n_designs = min(50_000, 100 + num_customers // 20)
    products, price_cents = _products(rng, n_products)
    designs, theme = _designs(rng, n_designs)
    # Pair products up: each pair is bought together often, which market-basket analysis finds.
    perm = rng.permutation(n_products)
    partner = np.arange(n_products)
    even = perm[: n_products // 2 * 2]
    partner[even[0::2]], partner[even[1::2]] = even[1::2], even[0::2]
    by_theme = np.argsort(theme, kind="stable")
    counts = np.bincount(theme, minlength=len(THEMES))
    return Catalogue(
        products=products,
        designs=designs,
        price_cents=price_cents,
        product_cdf=zipf_cdf(rng, n_products, 1.05),
        partner=partner,
        design_cdf=zipf_cdf(rng, n_designs, 0.9),
        designs_by_theme=by_theme,
        theme_start=np.cumsum(counts) - counts,
        theme_count=counts,
    )
