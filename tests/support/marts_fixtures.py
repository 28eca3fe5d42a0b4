"""A small, deterministic landing dataset for the marts tests, rich in the cases the features must
get right: profiles whose orders are split across two user_ids, refunded and cancelled orders,
blank and whitespace coupons, customers without orders, lines without a design, a product missing
from the catalogue, a bot id and a super-connector anonymous id the stitcher must exclude.

Independent of include/synthetic/ on purpose: the marts tests must not change when the synthetic
generator's distributions do.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

THEMES = {
    "animals": "nature",
    "flowers": "nature",
    "space": "science",
    "robots": "science",
    "retro": "vintage",
    "typography": "minimal",
    "abstract": "minimal",
}
CANVAS_GROUPS = {"apparel": True, "wall-art": False, "stationery": False, "home": False}
STYLES = ["classic", "fitted", "oversized", "framed", "matte"]
COLORS = ["black", "white", "navy", "red", "sand"]
START = datetime(2025, 1, 1)
END = datetime(2026, 10, 31)


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def _timestamp(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(int((END - START).total_seconds())))


def make_landing(out: Path, customers: int = 300, seed: int = 42) -> Path:
    """Write one landing directory (one folder per source) under out and return out."""
    rng = random.Random(seed)
    out = Path(out)

    products = []
    for i in range(40):
        group = rng.choice(list(CANVAS_GROUPS))
        # Some rows leave is_apparel blank: staging derives it from the canvas group.
        is_apparel = "" if i % 7 == 0 else str(CANVAS_GROUPS[group]).lower()
        products.append([f"p{i:03d}", f"Product {i}", rng.choice(STYLES), rng.choice(COLORS), group, is_apparel])
    product_ids = [p[0] for p in products]

    designs = []
    for i in range(60):
        theme = rng.choice(list(THEMES))
        # A few designs have no theme, which must never become a favourite.
        designs.append([f"d{i:03d}", f"designer{i % 15:02d}", "" if i % 17 == 0 else theme, THEMES[theme]])
    design_ids = [d[0] for d in designs]

    identifies: dict[str, list[list[object]]] = {"identifies_js": [], "identifies_ruby": []}
    orders: list[list[object]] = []
    items: list[list[object]] = []

    def identify(anonymous_id: str | None, user_id: str | None) -> None:
        sdk = rng.choice(["identifies_js", "identifies_js", "identifies_ruby"])
        at = _timestamp(rng)
        event_id = f"{sdk[11:]}-{len(identifies[sdk]):06d}"
        identifies[sdk].append([
            event_id, anonymous_id, user_id, at.isoformat() + "Z", (at + timedelta(seconds=3)).isoformat() + "Z",
            None, "analytics.js" if sdk == "identifies_js" else "analytics-ruby",
        ])

    for c in range(customers):
        user_ids = [f"u{c:05d}"]
        if c % 5 == 0:
            # A second account of the same person (e.g. a hashed e-mail), linked through a device.
            user_ids.append(f"sha{c:05d}")
        anonymous_ids = [f"a{c:05d}-{k}" for k in range(rng.randint(1, 3))]
        for user_id in user_ids:
            for anonymous_id in rng.sample(anonymous_ids, rng.randint(1, len(anonymous_ids))):
                identify(anonymous_id, user_id)
        if len(user_ids) == 2:
            identify(anonymous_ids[0], user_ids[0])
            identify(anonymous_ids[0], user_ids[1])
        if c % 9 == 0:
            identify(f"visitor{c:05d}", None)

        order_count = 0 if c % 11 == 0 else rng.choice([1, 1, 1, 2, 2, 3, 4, 6])
        for _ in range(order_count):
            order_id = f"o{len(orders):06d}"
            status = rng.choices(["completed", "cancelled", "refunded"], weights=[80, 10, 10])[0]
            coupon = rng.choices([None, "", "  ", "SAVE10", "WELCOME"], weights=[60, 10, 5, 15, 10])[0]
            lines = []
            for _ in range(rng.randint(1, 4)):
                product_id = rng.choice(product_ids) if rng.random() > 0.02 else "p999"
                design_id = rng.choice(design_ids) if rng.random() > 0.1 else None
                quantity = rng.choices([1, 2, 3], weights=[70, 20, 10])[0]
                price = round(rng.uniform(5, 60), 2)
                lines.append([f"i{len(items) + len(lines):07d}", order_id, product_id, design_id, quantity, price])
            subtotal = round(sum(line[4] * line[5] for line in lines), 2)
            revenue = round(subtotal + rng.choice([0, 4.99, 7.5]), 2)
            refund = revenue if status == "refunded" else rng.choice([None, 0])
            orders.append([
                order_id, rng.choice(user_ids), status.upper() if rng.random() < 0.05 else status,
                _timestamp(rng).isoformat() + "Z", revenue, subtotal, refund, coupon,
            ])
            items.extend(lines)

    # Ids the stitcher must keep out: an unrendered template and a device shared by many users.
    identify("#{anonymousId}", "u00001")
    for c in range(1, 8):
        identify("shared-kiosk", f"u{c:05d}")

    identify_header = ["id", "anonymous_id", "user_id", "timestamp", "received_at", "context_traits_email",
                       "context_library_name"]
    for source, rows in identifies.items():
        _write(out / source / "part-0.csv", identify_header, rows)
    _write(out / "orders" / "part-0.csv", ["order_id", "user_id", "status", "ordered_at", "revenue_usd",
                                           "subtotal_usd", "refund_amount_usd", "coupon_code"], orders)
    _write(out / "order_items" / "part-0.csv", ["order_item_id", "order_id", "product_id", "design_id", "quantity",
                                                "unit_price_usd"], items)
    _write(out / "products" / "part-0.csv", ["product_id", "product_name", "product_style", "product_color",
                                             "canvas_group", "is_apparel"], products)
    _write(out / "designs" / "part-0.csv", ["design_id", "designer_id", "theme", "theme_genre"], designs)
    return out
