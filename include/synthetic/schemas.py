"""The landing contract as the generator writes it: sources, Arrow schemas and file formats."""

from __future__ import annotations

import pyarrow as pa

SOURCES = ("identifies_js", "identifies_ruby", "orders", "order_items", "products", "designs")
PER_CUSTOMER_SOURCES = SOURCES[:4]
CATALOGUE_SOURCES = SOURCES[4:]
FORMATS = ("csv", "parquet")

TS = pa.timestamp("us", tz="UTC")
DEC = pa.decimal128(18, 2)

_IDENTIFY_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("anonymous_id", pa.string()),
        ("user_id", pa.string()),
        ("timestamp", TS),
        ("received_at", TS),
        ("context_traits_email", pa.string()),
        ("context_library_name", pa.string()),
    ]
)
SCHEMAS: dict[str, pa.Schema] = {
    "identifies_js": _IDENTIFY_SCHEMA,
    "identifies_ruby": _IDENTIFY_SCHEMA,
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("user_id", pa.string()),
            ("status", pa.string()),
            ("ordered_at", TS),
            ("revenue_usd", DEC),
            ("subtotal_usd", DEC),
            ("refund_amount_usd", DEC),
            ("coupon_code", pa.string()),
        ]
    ),
    "order_items": pa.schema(
        [
            ("order_item_id", pa.string()),
            ("order_id", pa.string()),
            ("product_id", pa.string()),
            ("design_id", pa.string()),
            ("quantity", pa.int64()),
            ("unit_price_usd", DEC),
        ]
    ),
    "products": pa.schema(
        [
            ("product_id", pa.string()),
            ("product_name", pa.string()),
            ("product_style", pa.string()),
            ("product_color", pa.string()),
            ("canvas_group", pa.string()),
            ("is_apparel", pa.bool_()),
        ]
    ),
    "designs": pa.schema(
        [
            ("design_id", pa.string()),
            ("designer_id", pa.string()),
            ("theme", pa.string()),
            ("theme_genre", pa.string()),
        ]
    ),
}
LIBRARY = {"identifies_js": "analytics.js", "identifies_ruby": "rudder-sdk-ruby"}
# Unique-per-row columns gain nothing from dictionary encoding; skipping it saves write time.
UNIQUE_COLUMNS = {"id", "order_item_id"}
