"""Deterministic synthetic landing data for the Customer 360 pipeline.

Writes one folder per source of the landing contract (shared/contracts/sources.yml):

    <out_dir>/<source>/part-00000.csv        (or .parquet; more parts when asked or when big)
    <out_dir>/_generator.json                 parameters, row counts and file names

The data has the shapes the identity-stitching layer must cope with: people with several devices
and a re-registered second user_id, family devices shared by 2-4 people, kiosk/bot anonymous_ids
linked to dozens or hundreds of user_ids, shared accounts with 100-400 devices, template ids
(``#{anonymousId}``, ``#{userId}``), anonymous-only and user-only events; and orders with
long-tailed counts, Zipf-like product popularity, complementary product pairs, cancellations,
refunds and coupons.

Everything is vectorised with numpy and streamed in chunks of customers, so memory stays bounded
at any scale. Randomness comes from one SeedSequence per block of BLOCK_CUSTOMERS customers (plus
one for the catalogues), and nothing reads the wall clock, so the same (num_customers, seed,
file_format) gives byte-identical files; files_per_source only moves file boundaries.

CLI: python -m include.synthetic.generator --out DIR [--customers N] [--seed S] [--format csv|parquet]
     [--files-per-source K] [--quiet]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import operator
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

MAX_CUSTOMERS = 5_000_000
MAX_FILES_PER_SOURCE = 1000
FORMATS = ("csv", "parquet")

# The unit of randomness: each block has its own SeedSequence, so the content of a block never
# depends on how blocks are batched into write chunks or split across files.
BLOCK_CUSTOMERS = 2_000
# Blocks are batched into chunks of about this many customers per write (bounds memory).
CHUNK_CUSTOMERS = 16_000
# A big source rolls over to a new part file at a chunk boundary past this many rows, so the
# loader reads files of bounded size.
ROWS_PER_FILE = 5_000_000

# Fixed reference date: every timestamp lies in the two years before it (never the wall clock).
REFERENCE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
REFERENCE_TS = int(REFERENCE_DATE.timestamp())
WINDOW_DAYS = 730
DAY = 86_400

SOURCES = ("identifies_js", "identifies_ruby", "orders", "order_items", "products", "designs")
PER_CUSTOMER_SOURCES = SOURCES[:4]
CATALOGUE_SOURCES = SOURCES[4:]

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
_UNIQUE_COLUMNS = {"id", "order_item_id"}

TEMPLATE_ANONYMOUS_ID = "#{anonymousId}"
TEMPLATE_USER_ID = "#{userId}"

# --- vocabularies ---------------------------------------------------------------------------

FIRST_NAMES = (
    "olivia", "liam", "emma", "noah", "ava", "elijah", "sophia", "lucas", "mia", "mateo", "amelia",
    "levi", "harper", "ezra", "evelyn", "luca", "aria", "james", "chloe", "leo", "nora", "jack",
    "zoe", "owen", "lily", "ethan", "hana", "kai", "priya", "omar", "fatima", "yuki", "chen",
    "sofia", "diego", "ines", "marco", "anna", "jonas", "sara", "ali"
)
LAST_NAMES = (
    "smith", "johnson", "garcia", "miller", "davis", "rodriguez", "martinez", "lopez", "wilson",
    "anderson", "thomas", "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson",
    "white", "harris", "clark", "lewis", "walker", "young", "allen", "king", "wright", "scott",
    "nguyen", "hill", "green", "adams", "baker", "nelson", "carter", "mitchell", "patel", "kim",
    "mueller", "rossi"
)
EMAIL_DOMAINS = (
    "gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "proton.me", "aol.com",
    "example.org"
)

CANVAS_GROUPS = ("apparel", "wall-art", "stationery", "home", "accessories")
CANVAS_SHARE = (0.40, 0.20, 0.15, 0.15, 0.10)
CANVAS_ITEMS = (
    ("T-Shirt", "Hoodie", "Sweatshirt", "Tank Top", "Long Sleeve Tee", "Baby Onesie"),
    ("Poster", "Canvas Print", "Framed Print", "Metal Print", "Art Print", "Tapestry"),
    ("Notebook", "Sticker", "Greeting Card", "Postcard", "Journal", "Spiral Notebook"),
    ("Mug", "Throw Pillow", "Throw Blanket", "Shower Curtain", "Coaster Set", "Wall Clock"),
    ("Phone Case", "Tote Bag", "Pin", "Backpack", "Laptop Sleeve", "Water Bottle"),
)
# Whole-dollar price range per canvas group; prices end in .99.
CANVAS_PRICE_DOLLARS = ((18, 46), (12, 121), (3, 21), (12, 61), (8, 41))
PRODUCT_STYLES = (
    "classic", "slim", "oversized", "premium", "relaxed", "vintage-wash", "fitted", "standard",
    "deluxe", "eco"
)
PRODUCT_COLORS = (
    "black", "white", "navy", "heather-grey", "red", "forest-green", "maroon", "sand", "pink",
    "royal-blue", "natural", "charcoal"
)

THEME_GENRES = {
    "cats": "animals", "dogs": "animals", "foxes": "animals", "birds": "animals",
    "space": "sci-fi", "robots": "sci-fi", "aliens": "sci-fi",
    "floral": "nature", "mountains": "nature", "ocean": "nature", "forest": "nature",
    "retro": "vintage", "80s": "vintage", "vinyl": "vintage",
    "typography": "minimal", "geometric": "minimal", "line-art": "minimal",
    "skulls": "gothic", "halloween": "holiday", "christmas": "holiday", "puns": "humor",
}  # fmt: skip
THEMES = tuple(THEME_GENRES)

ORDER_STATUSES = ("completed", "cancelled", "refunded")
ORDER_STATUS_SHARE = (0.90, 0.06, 0.04)
COUPON_CODES = ("WELCOME10", "SPRING15", "SUMMER20", "FALL25", "BFCM30", "FREESHIP", "VIP20")
QUANTITY_SHARE = (0.80, 0.12, 0.05, 0.02, 0.01)  # quantities 1..5

# --- per-customer behaviour (means tuned so the Instacart scale gives ~16.5 orders, ~9.5 items
# per order and ~48 identify events per customer) ----------------------------------------------

SHA1_USER_SHARE = 0.30
SECOND_USER_SHARE = 0.05
NO_ORDER_SHARE = 0.08
ORDERS_MEAN_EXTRA = 16.9  # buyers place 1 + Poisson(engagement * this) orders
ITEMS_MEAN_EXTRA = 8.5  # an order has 1 + Poisson(basket size) lines
IDENTIFIED_EVENTS = 32.0  # per customer, spread over their devices
ANON_ONLY_EVENTS = 9.0
USER_ONLY_EVENTS = 3.5
FAMILY_DEVICE_SHARE = 0.02
CONNECTOR_EVERY = 2_000  # one kiosk/bot anonymous_id per this many customers (at least 2)
SHARED_ACCOUNT_EVERY = 5_000  # one shared user_id per this many customers (at least 1)
TEMPLATE_EVERY = 500  # template-id events: one person per this many customers (at least 8)
ANON_SLOTS = 1024  # anonymous_ids per person are numbered below this (shared accounts: <= 400)

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_M32 = np.uint64(0xFFFFFFFF)


# --- vectorised string and value builders --------------------------------------------------


def _strings_from_fixed(chars: np.ndarray) -> pa.Array:
    """A string array from an (n, width) uint8 matrix, one row per value, without a Python loop."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _with_prefix(prefix: str, body: np.ndarray) -> np.ndarray:
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    out = np.empty((body.shape[0], head.size + body.shape[1]), dtype=np.uint8)
    out[:, : head.size] = head
    out[:, head.size :] = body
    return out


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    out = np.empty((values.size, width), dtype=np.uint8)
    rest = values.astype(np.int64)
    for pos in range(width - 1, -1, -1):
        out[:, pos] = 48 + rest % 10
        rest = rest // 10
    return out


def _hex_digits(values: np.ndarray, width: int) -> np.ndarray:
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    return _HEX[(values.astype(np.uint64)[:, None] >> shifts) & np.uint64(0xF)]


def _numbered_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return _strings_from_fixed(_with_prefix(prefix, _digits(numbers, width)))


def _uuid_strings(hi: np.ndarray, lo: np.ndarray) -> pa.Array:
    """uuid4-looking strings: hi carries the version nibble, lo the (unique) payload."""
    hi = (hi & ~np.uint64(0xF000)) | np.uint64(0x4000)
    h, low = _hex_digits(hi, 16), _hex_digits(lo, 16)
    out = np.full((hi.size, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8], out[:, 9:13], out[:, 14:18] = h[:, 0:8], h[:, 8:12], h[:, 12:16]
    out[:, 19:23], out[:, 24:36] = low[:, 0:4], low[:, 4:16]
    return _strings_from_fixed(out)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijection on uint64, so distinct counters give distinct ids."""
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _mix32(x: np.ndarray) -> np.ndarray:
    """murmur3 fmix32: a bijection on 32 bits, for short unique-looking tokens."""
    x = x.astype(np.uint64) & _M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & _M32
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & _M32
    x ^= x >> np.uint64(16)
    return x


def _sha1_hex(values: list[str]) -> pa.Array:
    # One hashlib call per customer (not per row), then hex-encoded in bulk.
    digests = b"".join(hashlib.sha1(v.encode()).digest() for v in values)
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 20)
    chars = np.empty((raw.shape[0], 40), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 0xF]
    return _strings_from_fixed(chars)


def _pick(values: pa.Array | Sequence[str], index: np.ndarray,
          null: np.ndarray | None = None) -> pa.Array:
    """values[index] as an Arrow array; rows where null is True become null."""
    values = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    idx = pa.array(index.astype(np.int64), mask=null) if null is not None else pa.array(index)
    return values.take(idx)


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * 1_000_000, type=TS)


def _decimals(cents: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """decimal128(18,2) straight from integer cents (exact: no float round trip)."""
    cents = cents.astype(np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension into the high 64 bits
    validity, null_count = None, 0
    if null is not None and null.any():
        validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
        null_count = int(null.sum())
    return pa.Array.from_buffers(
        DEC, cents.size, [validity, pa.py_buffer(words)], null_count=null_count
    )


def _iso_strings(ts: pa.Array) -> pa.Array:
    """'YYYY-MM-DDTHH:MM:SSZ' for whole-second UTC timestamps (Arrow's own strftime is slow)."""
    n = len(ts)
    seconds = np.asarray(ts.cast(pa.int64())) // 1_000_000
    text = pa.array(seconds, type=pa.timestamp("s")).cast(pa.string())  # 'YYYY-MM-DD HH:MM:SS'
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + n + 1]
    if n and not np.all(np.diff(offsets) == 19):
        raise ValueError("timestamp outside years 1000-9999 cannot be written")
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    out = np.empty((n, 20), dtype=np.uint8)
    if n:
        out[:, :19] = data[offsets[0] : offsets[0] + 19 * n].reshape(n, 19)
    out[:, 10] = ord("T")
    out[:, 19] = ord("Z")
    return _strings_from_fixed(out)


def _zipf_cdf(rng: np.random.Generator, size: int, exponent: float) -> np.ndarray:
    """Cumulative popularity over items in a random rank order (so ids say nothing of rank)."""
    rank = rng.permutation(size)
    weights = 1.0 / (rank + 1.0) ** exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def _sample(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


# --- catalogues and the cross-customer shapes ----------------------------------------------


@dataclass
class _Catalogue:
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
        _pick(title, style), _pick(color_title, color), _pick(items, item), " "
    )
    table = pa.Table.from_arrays(
        [
            _numbered_ids("p_", np.arange(1, count + 1), 5),
            name,
            _pick(PRODUCT_STYLES, style),
            _pick(PRODUCT_COLORS, color),
            _pick(list(CANVAS_GROUPS), group),
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
            _numbered_ids("d_", np.arange(1, count + 1), 6),
            _numbered_ids("dsgr_", designer + 1, 5),
            _pick(list(THEMES), theme),
            _pick(genres, theme),
        ],
        schema=SCHEMAS["designs"],
    )
    return table, theme


def _catalogue(rng: np.random.Generator, num_customers: int) -> _Catalogue:
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
    return _Catalogue(
        products=products,
        designs=designs,
        price_cents=price_cents,
        product_cdf=_zipf_cdf(rng, n_products, 1.05),
        partner=partner,
        design_cdf=_zipf_cdf(rng, n_designs, 0.9),
        designs_by_theme=by_theme,
        theme_start=np.cumsum(counts) - counts,
        theme_count=counts,
    )


@dataclass
class _Specials:
    """Shapes that span customers, drawn once for the whole population (sorted by customer)."""

    connector_ids: pa.Array  # kiosk/bot anonymous_ids
    connector_customer: np.ndarray
    connector_index: np.ndarray
    shared_customer: np.ndarray  # shared accounts and their number of devices
    shared_devices: np.ndarray
    template_anon_customer: np.ndarray
    template_user_customer: np.ndarray


def _distinct(rng: np.random.Generator, population: int, count: int) -> np.ndarray:
    return np.sort(rng.choice(population, min(count, population), replace=False))


def _specials(rng: np.random.Generator, num_customers: int, anon_key: np.uint64) -> _Specials:
    n_connectors = max(2, num_customers // CONNECTOR_EVERY)
    sizes = np.minimum(rng.integers(24, 301, n_connectors), num_customers)
    members = np.concatenate([rng.choice(num_customers, s, replace=False) for s in sizes])
    which = np.repeat(np.arange(n_connectors), sizes)
    order = np.argsort(members, kind="stable")
    # Payloads above every person's slot range, so they never collide with a person's device.
    payload = np.uint64(1 << 40) + np.arange(n_connectors, dtype=np.uint64)
    hi = rng.integers(0, 2**64, n_connectors, dtype=np.uint64)
    shared = _distinct(rng, num_customers, max(1, num_customers // SHARED_ACCOUNT_EVERY))
    n_templates = max(8, num_customers // TEMPLATE_EVERY)
    return _Specials(
        connector_ids=_uuid_strings(hi, _mix64(payload ^ anon_key)),
        connector_customer=members[order],
        connector_index=which[order],
        shared_customer=shared,
        shared_devices=rng.integers(101, 401, shared.size),
        template_anon_customer=_distinct(rng, num_customers, n_templates),
        template_user_customer=_distinct(rng, num_customers, n_templates),
    )


@dataclass
class _Context:
    seed: int
    num_customers: int
    keys: np.ndarray
    catalogue: _Catalogue
    specials: _Specials
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PER_CUSTOMER_SOURCES, 0))


def _context(seed: int, num_customers: int) -> _Context:
    rng = _rng(seed, 0)
    keys = rng.integers(0, 2**64, 8, dtype=np.uint64)
    catalogue = _catalogue(rng, num_customers)
    specials = _specials(rng, num_customers, keys[0])
    return _Context(seed, num_customers, keys, catalogue, specials)


def _in_block(sorted_customers: np.ndarray, start: int, stop: int) -> slice:
    lo, hi = np.searchsorted(sorted_customers, [start, stop])
    return slice(int(lo), int(hi))


# --- one block of customers ----------------------------------------------------------------


@dataclass
class _People:
    """Per-customer attributes of a block; index i is customer start + i."""

    start: int
    engagement: np.ndarray
    since: np.ndarray  # first-seen epoch seconds
    has_second: np.ndarray
    user_ids: pa.Array  # first user_ids (n) then second user_ids (n)
    emails: pa.Array  # aligned with user_ids

    @property
    def size(self) -> int:
        return self.engagement.size


def _people(ctx: _Context, rng: np.random.Generator, start: int, stop: int) -> _People:
    n = stop - start
    customer = np.arange(start, stop, dtype=np.uint64)
    sha_user = rng.random(n) < SHA1_USER_SHARE
    has_second = rng.random(n) < SECOND_USER_SHARE
    first = _pick(FIRST_NAMES, rng.integers(0, len(FIRST_NAMES), n))
    last = _pick(LAST_NAMES, rng.integers(0, len(LAST_NAMES), n))
    # Tokens are bijections of the customer number, so ids and e-mails are unique by construction.
    key_user, key_mail = ctx.keys[1] & _M32, ctx.keys[2] & _M32
    user_ids, emails = [], []
    for offset, hashed in ((0, sha_user), (MAX_CUSTOMERS, sha_user & has_second)):
        mail_token = _strings_from_fixed(_hex_digits(_mix32((customer + offset) ^ key_mail), 8))
        domain = _pick(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), n))
        email = pc.binary_join_element_wise(first, ".", last, ".", mail_token, "@", domain, "")
        plain = _strings_from_fixed(
            _with_prefix("u_", _hex_digits(_mix32((customer + offset) ^ key_user), 8))
        )
        picked = np.flatnonzero(hashed)
        slot = np.full(n, -1)
        slot[picked] = np.arange(picked.size)
        sha = _pick(_sha1_hex(email.take(pa.array(picked)).to_pylist()), slot, slot < 0)
        user_ids.append(pc.if_else(pa.array(hashed), sha, plain))
        emails.append(email)
    return _People(
        start=start,
        engagement=rng.gamma(1.2, 1 / 1.2, n),
        since=REFERENCE_TS - rng.integers(60 * DAY, WINDOW_DAYS * DAY, n),
        has_second=has_second,
        user_ids=pa.concat_arrays(user_ids),
        emails=pa.concat_arrays(emails),
    )


@dataclass
class _Links:
    """(anonymous_id, user_id) pairs with how many identify events carry each; -1 = no id."""

    customer: list[np.ndarray] = field(default_factory=list)
    anon: list[np.ndarray] = field(default_factory=list)
    user: list[np.ndarray] = field(default_factory=list)
    events: list[np.ndarray] = field(default_factory=list)
    web_share: list[np.ndarray] = field(default_factory=list)
    email_ok: list[np.ndarray] = field(default_factory=list)

    def add(self, customer: np.ndarray, anon: np.ndarray | int, user: np.ndarray | int,
            events: np.ndarray, web_share: float, email_ok: bool) -> None:
        size = customer.size
        self.customer.append(customer.astype(np.int64))
        self.anon.append(np.broadcast_to(anon, size).astype(np.int64))
        self.user.append(np.broadcast_to(user, size).astype(np.int64))
        self.events.append(events.astype(np.int64))
        self.web_share.append(np.full(size, web_share))
        self.email_ok.append(np.full(size, email_ok))

    def stacked(self) -> dict[str, np.ndarray]:
        cols = {name: np.concatenate(getattr(self, name)) for name in
                ("customer", "anon", "user", "events", "web_share", "email_ok")}
        keep = cols["events"] > 0
        order = np.argsort(cols["customer"][keep], kind="stable")
        return {name: col[keep][order] for name, col in cols.items()}


def _devices(ctx: _Context, rng: np.random.Generator, people: _People
             ) -> tuple[pa.Array, np.ndarray]:
    """Each person's anonymous_ids: returns the ids and the owner of each."""
    n, start = people.size, people.start
    count = np.minimum(rng.geometric(0.45, n), 20)
    sp = ctx.specials
    window = _in_block(sp.shared_customer, start, start + n)
    count[sp.shared_customer[window] - start] = sp.shared_devices[window]
    owner = np.repeat(np.arange(n), count)
    slot = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    payload = (owner + start).astype(np.uint64) * np.uint64(ANON_SLOTS) + slot.astype(np.uint64)
    hi = rng.integers(0, 2**64, owner.size, dtype=np.uint64)
    return _uuid_strings(hi, _mix64(payload ^ ctx.keys[0])), owner


def _identity_links(ctx: _Context, rng: np.random.Generator, people: _People,
                    owner: np.ndarray) -> _Links:
    n, start, g = people.size, people.start, people.engagement
    n_dev = owner.size
    per_person = np.bincount(owner, minlength=n)
    first_device = np.cumsum(per_person) - per_person
    is_first = np.zeros(n_dev, dtype=bool)
    is_first[first_device[per_person > 0]] = True
    links = _Links()
    # Every device is identified as the person at least once; busy people on few devices more.
    lam = g[owner] * IDENTIFIED_EVENTS / per_person[owner]
    links.add(owner, np.arange(n_dev), owner, 1 + rng.poisson(lam), 0.72, True)
    # Re-registered people: the second user_id shows up on the first device (and some others),
    # which is what links it to the first one.
    second = people.has_second[owner] & (is_first | (rng.random(n_dev) < 0.3))
    dev = np.flatnonzero(second)
    links.add(owner[dev], dev, owner[dev] + n, 1 + rng.poisson(3.0, dev.size), 0.72, True)
    # Browsing before logging in: anonymous-only events.
    lam = g[owner] * ANON_ONLY_EVENTS / per_person[owner]
    links.add(owner, np.arange(n_dev), -1, rng.poisson(lam), 0.85, False)
    # Server-side calls without a device: user-only events, mostly from ruby.
    person = np.arange(n)
    user = np.where(people.has_second & (rng.random(n) < 0.3), person + n, person)
    links.add(person, -1, user, rng.poisson(g * USER_ONLY_EVENTS), 0.1, True)
    _family_links(rng, links, owner, n)
    _special_links(ctx, rng, links, start, n, n_dev, first_device)
    return links


def _family_links(rng: np.random.Generator, links: _Links, owner: np.ndarray, n: int) -> None:
    """A few devices are shared by 2-4 people of the household (their profiles rightly merge)."""
    if n < 2:
        return
    shared = np.flatnonzero(rng.random(owner.size) < FAMILY_DEVICE_SHARE)
    others = rng.integers(1, 4, shared.size)
    device = np.repeat(shared, others)
    member = (owner[device] + rng.integers(1, n, device.size)) % n
    links.add(member, device, member, 1 + rng.poisson(2.0, device.size), 0.75, True)


def _special_links(ctx: _Context, rng: np.random.Generator, links: _Links, start: int, n: int,
                   n_dev: int, first_device: np.ndarray) -> None:
    """Kiosk/bot devices and template ids, whose member lists were drawn for everyone at once."""
    sp = ctx.specials
    window = _in_block(sp.connector_customer, start, start + n)
    member = sp.connector_customer[window] - start
    device = n_dev + sp.connector_index[window]
    links.add(member, device, member, 1 + rng.poisson(1.0, member.size), 0.7, False)
    template_anon = n_dev + len(sp.connector_ids)
    member = sp.template_anon_customer[_in_block(sp.template_anon_customer, start, start + n)]
    member = member - start
    links.add(member, template_anon, member, 1 + rng.poisson(0.5, member.size), 0.5, False)
    member = sp.template_user_customer[_in_block(sp.template_user_customer, start, start + n)]
    member = member - start
    links.add(member, first_device[member], 2 * n, np.ones(member.size), 0.5, False)


def _identify_tables(ctx: _Context, rng: np.random.Generator, people: _People, devices: pa.Array,
                     links: _Links) -> dict[str, tuple[pa.Table, np.ndarray]]:
    n = people.size
    anon_values = pa.concat_arrays(
        [devices, ctx.specials.connector_ids, pa.array([TEMPLATE_ANONYMOUS_ID, ""])]
    )
    empty_anon = len(anon_values) - 1
    user_values = pa.concat_arrays([people.user_ids, pa.array([TEMPLATE_USER_ID, ""])])
    empty_user = 2 * n + 1
    link = links.stacked()
    at = np.repeat(np.arange(link["events"].size), link["events"])
    customer = link["customer"][at]
    size = at.size
    ts = people.since[customer] + np.floor(
        rng.random(size) * (REFERENCE_TS - people.since[customer])
    ).astype(np.int64)
    # Mostly a few seconds of delivery lag; now and then a retried batch arrives much later.
    lag = rng.integers(1, 12, size) + (rng.random(size) < 0.01) * rng.integers(60, 3_600, size)
    web = rng.random(size) < link["web_share"][at]
    # A missing id is null in most rows and an empty string in some, as real SDK tables have.
    anon = link["anon"][at]
    anon = np.where((anon < 0) & (rng.random(size) < 0.1), empty_anon, anon)
    user = link["user"][at]
    user = np.where((user < 0) & (rng.random(size) < 0.1), empty_user, user)
    with_email = link["email_ok"][at] & (user >= 0) & (user < 2 * n) & (rng.random(size) < 0.35)
    hi = rng.integers(0, 2**64, size, dtype=np.uint64)
    out = {}
    for source, key, rows in (("identifies_js", ctx.keys[3], web), ("identifies_ruby",
                                                                       ctx.keys[4], ~web)):
        pos = np.flatnonzero(rows)
        first = ctx.counters[source]
        ctx.counters[source] += pos.size
        counter = np.arange(first, first + pos.size, dtype=np.uint64)
        table = pa.Table.from_arrays(
            [
                _uuid_strings(hi[pos], _mix64(counter ^ key)),
                _pick(anon_values, anon[pos], anon[pos] < 0),
                _pick(user_values, user[pos], user[pos] < 0),
                _timestamps(ts[pos]),
                _timestamps(ts[pos] + lag[pos]),
                _pick(people.emails, user[pos], ~with_email[pos]),
                _pick([LIBRARY[source]], np.zeros(pos.size, dtype=np.int64)),
            ],
            schema=SCHEMAS[source],
        )
        out[source] = (table, customer[pos] + people.start)
    return out


def _unique_in_order(rng: np.random.Generator, cat: _Catalogue, order: np.ndarray,
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
        product[dup] = _sample(rng, cat.product_cdf, int(dup.sum()))
    key = order * n_products + product
    sort = np.argsort(key, kind="stable")
    dup = np.zeros(key.size, dtype=bool)
    dup[sort[1:]] = key[sort[1:]] == key[sort[:-1]]
    return ~dup


def _order_lines(ctx: _Context, rng: np.random.Generator, people: _People, order_owner: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Line items: (order index, product, design or -1), grouped by order."""
    cat, n = ctx.catalogue, people.size
    basket = rng.gamma(3.0, ITEMS_MEAN_EXTRA / 3.0, n)
    lines = 1 + rng.poisson(basket[order_owner])
    order = np.repeat(np.arange(order_owner.size), lines)
    owner = order_owner[order]
    first_line = np.zeros(order.size, dtype=bool)
    first_line[np.cumsum(lines) - lines] = True
    product = _sample(rng, cat.product_cdf, order.size)
    # People re-buy their staples (Instacart-style reorders) ...
    staples = _sample(rng, cat.product_cdf, n * 8).reshape(n, 8)
    use = rng.random(order.size) < 0.3
    product[use] = staples[owner[use], rng.integers(0, 8, int(use.sum()))]
    # ... and complementary pairs land in the same basket.
    pair = np.flatnonzero((rng.random(order.size) < 0.25) & ~first_line)
    product[pair] = cat.partner[product[pair - 1]]
    keep = _unique_in_order(rng, cat, order, product)
    order, owner, product = order[keep], owner[keep], product[keep]
    size = order.size
    design = _sample(rng, cat.design_cdf, size)
    favourite = rng.integers(0, len(THEMES), n)[owner]
    fav = np.flatnonzero(rng.random(size) < 0.4)
    pick = cat.theme_start[favourite[fav]] + np.floor(
        rng.random(fav.size) * cat.theme_count[favourite[fav]]
    ).astype(np.int64)
    design[fav] = cat.designs_by_theme[pick]
    design[rng.random(size) < 0.1] = -1
    return order, product, design


def _order_tables(ctx: _Context, rng: np.random.Generator, people: _People
                  ) -> dict[str, tuple[pa.Table, np.ndarray]]:
    cat, n = ctx.catalogue, people.size
    buyer = rng.random(n) >= NO_ORDER_SHARE
    count = np.where(buyer, 1 + rng.poisson(people.engagement * ORDERS_MEAN_EXTRA), 0)
    owner = np.repeat(np.arange(n), count)
    size = owner.size
    at = people.since[owner] + np.floor(
        rng.random(size) * (REFERENCE_TS - people.since[owner])
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
    order_ids = _numbered_ids("o_", np.arange(first_order + 1, first_order + size + 1), 10)
    orders = pa.Table.from_arrays(
        [
            order_ids,
            _pick(people.user_ids, user),
            _pick(list(ORDER_STATUSES), status),
            _timestamps(at),
            _decimals(revenue),
            _decimals(subtotal),
            _decimals(refund, refund_null),
            _pick([*COUPON_CODES, ""], code, code_null),
        ],
        schema=SCHEMAS["orders"],
    )
    first_item = ctx.counters["order_items"]
    ctx.counters["order_items"] += line_order.size
    items = pa.Table.from_arrays(
        [
            _numbered_ids("oi_", np.arange(first_item + 1, first_item + line_order.size + 1), 12),
            order_ids.take(pa.array(line_order)),
            cat.products.column("product_id").combine_chunks().take(pa.array(product)),
            _pick(cat.designs.column("design_id").combine_chunks(), design, design < 0),
            pa.array(quantity, pa.int64()),
            _decimals(unit),
        ],
        schema=SCHEMAS["order_items"],
    )
    return {
        "orders": (orders, owner + people.start),
        "order_items": (items, owner[line_order] + people.start),
    }


def _block(ctx: _Context, index: int, start: int, stop: int
           ) -> dict[str, tuple[pa.Table, np.ndarray]]:
    """All per-customer rows of customers [start, stop), each with the customer of every row."""
    rng = _rng(ctx.seed, 1, index)
    people = _people(ctx, rng, start, stop)
    devices, owner = _devices(ctx, rng, people)
    links = _identity_links(ctx, rng, people, owner)
    tables = _identify_tables(ctx, rng, people, devices, links)
    tables.update(_order_tables(ctx, rng, people))
    return tables


# --- writing -------------------------------------------------------------------------------


def _for_csv(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 text; decimals, booleans and nulls are already written as wanted."""
    for i, fld in enumerate(table.schema):
        if pa.types.is_timestamp(fld.type):
            column = table.column(i)
            text = pa.chunked_array([_iso_strings(c) for c in column.chunks], pa.string())
            table = table.set_column(i, pa.field(fld.name, pa.string()), text)
    return table


class _SourceWriter:
    """Streams one source into part files, finishing each under a hidden name then renaming it."""

    def __init__(self, folder: Path, schema: pa.Schema, file_format: str) -> None:
        self.folder, self.schema, self.file_format = folder, schema, file_format
        self.part, self.rows_in_part, self.rows = 0, 0, 0
        self.files: list[str] = []
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def _name(self) -> str:
        return f"part-{self.part:05d}.{self.file_format}"

    def _open(self) -> None:
        tmp = self.folder / f".{self._name()}.tmp"
        if self.file_format == "parquet":
            dictionary = [f.name for f in self.schema if f.name not in _UNIQUE_COLUMNS]
            self._writer = pq.ParquetWriter(tmp, self.schema, use_dictionary=dictionary)
        else:
            self._writer = pacsv.CSVWriter(tmp, _for_csv(self.schema.empty_table()).schema)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.rows_in_part >= ROWS_PER_FILE:
            self.next_part()
        if self._writer is None:
            self._open()
        self._writer.write_table(_for_csv(table) if self.file_format == "csv" else table)
        self.rows_in_part += table.num_rows
        self.rows += table.num_rows

    def next_part(self) -> None:
        """Finish the current part (empty if nothing was written) and start numbering the next."""
        if self._writer is None:
            self._open()
        self._writer.close()
        self._writer = None
        name = self._name()
        os.replace(self.folder / f".{name}.tmp", self.folder / name)
        self.files.append(name)
        self.part += 1
        self.rows_in_part = 0


def _prepare_out_dir(out: Path) -> None:
    """Create the folders and drop what an earlier run left (a stale part would double rows)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "_generator.json").unlink(missing_ok=True)
    for source in SOURCES:
        folder = out / source
        folder.mkdir(exist_ok=True)
        for path in folder.iterdir():
            name = path.name.removeprefix(".")
            if path.is_file() and name.startswith("part-") and (
                name.endswith((".csv", ".parquet", ".tmp"))
            ):
                path.unlink()


def _slice_bounds(num_customers: int, files_per_source: int) -> list[int]:
    return [num_customers * k // files_per_source for k in range(files_per_source + 1)]


def _write_catalogue(writer: _SourceWriter, table: pa.Table, files_per_source: int) -> None:
    for part in np.array_split(np.arange(table.num_rows), files_per_source):
        writer.write(table.slice(int(part[0]), part.size) if part.size else table.slice(0, 0))
        writer.next_part()


class _Stream:
    """Buffers block tables into chunks and routes each customer range to its file slice."""

    def __init__(self, writers: dict[str, _SourceWriter], bounds: list[int], progress: bool,
                 num_customers: int) -> None:
        self.writers, self.bounds, self.progress = writers, bounds, progress
        self.num_customers = num_customers
        self.buffer: dict[str, list[pa.Table]] = {s: [] for s in PER_CUSTOMER_SOURCES}
        self.buffered = 0
        self.done = 0
        self.slice = 0
        self.started = time.monotonic()

    def add(self, tables: dict[str, tuple[pa.Table, np.ndarray]], start: int, stop: int) -> None:
        cuts = [b for b in self.bounds[1:-1] if start < b < stop]
        for lo, hi in zip([start, *cuts], [*cuts, stop], strict=True):
            target = int(np.searchsorted(self.bounds, lo, side="right")) - 1
            while self.slice < target:  # a new file slice starts here
                self.flush()
                for source in PER_CUSTOMER_SOURCES:
                    self.writers[source].next_part()
                self.slice += 1
            for source, (table, customer) in tables.items():
                rows = _in_block(customer, lo, hi)
                self.buffer[source].append(table.slice(rows.start, rows.stop - rows.start))
            self.buffered += hi - lo
        if self.buffered >= CHUNK_CUSTOMERS:
            self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        for source, parts in self.buffer.items():
            self.writers[source].write(pa.concat_tables(parts))
            parts.clear()
        self.done += self.buffered
        self.buffered = 0
        if self.progress:
            rows = sum(w.rows for w in self.writers.values())
            print(
                f"generator: {self.done:,}/{self.num_customers:,} customers, "
                f"{rows:,} rows written, {time.monotonic() - self.started:.1f}s",
                file=sys.stderr,
                flush=True,
            )


def _validate(num_customers: object, seed: object, file_format: object,
              files_per_source: object) -> None:
    def integer(name: str, value: object, low: int, high: int) -> int:
        if isinstance(value, bool):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        try:
            number = operator.index(value)
        except TypeError:
            raise ValueError(f"{name} must be an integer, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"{name} must be between {low:,} and {high:,}, got {number:,}")
        return number

    customers = integer("num_customers", num_customers, 1, MAX_CUSTOMERS)
    integer("seed", seed, 0, 2**63 - 1)
    if file_format not in FORMATS:
        raise ValueError(f"file_format must be one of {', '.join(FORMATS)}, got {file_format!r}")
    integer("files_per_source", files_per_source, 1, min(MAX_FILES_PER_SOURCE, customers))


def generate(out_dir: str | Path, num_customers: int = 500, seed: int = 42,
             file_format: str = "csv", files_per_source: int = 1, progress: bool = False) -> dict:
    """Write a synthetic landing directory; returns (and writes to _generator.json) the summary.

    Each source gets files_per_source part files (customers split evenly between them); a big
    source rolls over to further parts every ~ROWS_PER_FILE rows.
    """
    _validate(num_customers, seed, file_format, files_per_source)
    num_customers, seed, files_per_source = int(num_customers), int(seed), int(files_per_source)
    out = Path(out_dir)
    _prepare_out_dir(out)
    ctx = _context(seed, num_customers)
    writers = {s: _SourceWriter(out / s, SCHEMAS[s], file_format) for s in SOURCES}
    _write_catalogue(writers["products"], ctx.catalogue.products, files_per_source)
    _write_catalogue(writers["designs"], ctx.catalogue.designs, files_per_source)

    stream = _Stream(writers, _slice_bounds(num_customers, files_per_source), progress,
                     num_customers)
    for index, start in enumerate(range(0, num_customers, BLOCK_CUSTOMERS)):
        stop = min(start + BLOCK_CUSTOMERS, num_customers)
        stream.add(_block(ctx, index, start, stop), start, stop)
    stream.flush()
    for source in PER_CUSTOMER_SOURCES:
        writers[source].next_part()

    rows = {s: writers[s].rows for s in SOURCES}
    summary = {
        "generator": "include.synthetic.generator",
        "num_customers": num_customers,
        "seed": seed,
        "file_format": file_format,
        "files_per_source": files_per_source,
        "reference_date": REFERENCE_DATE.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rows": rows,
        "total_rows": sum(rows.values()),
        "files": {s: [f"{s}/{name}" for name in writers[s].files] for s in SOURCES},
    }
    # Written last and atomically: its presence means the directory is complete.
    tmp = out / "._generator.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, out / "_generator.json")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.synthetic.generator", description="Write synthetic Customer 360 landing data."
    )
    parser.add_argument("--out", required=True, type=Path, help="landing directory to write")
    parser.add_argument("--customers", type=int, default=500, help="number of people (default 500)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--format", choices=FORMATS, default="csv", help="file format")
    parser.add_argument("--files-per-source", type=int, default=1, help="part files per source")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    try:
        summary = generate(args.out, num_customers=args.customers, seed=args.seed,
                           file_format=args.format, files_per_source=args.files_per_source,
                           progress=not args.quiet)
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
