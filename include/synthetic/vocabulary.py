"""Vocabularies, the fixed reference date and the per-customer behaviour means."""

from __future__ import annotations

from datetime import UTC, datetime

MAX_CUSTOMERS = 5_000_000

# Fixed reference date: every timestamp lies in the two years before it (never the wall clock).
REFERENCE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
REFERENCE_TS = int(REFERENCE_DATE.timestamp())
WINDOW_DAYS = 730
DAY = 86_400

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

# --- a next day (include/synthetic/days.py) -------------------------------------------------------

DAY_NEW_CUSTOMERS_EVERY = 200  # new people per day: one per this many base customers (at least 2)
DAY_ACTIVE_CUSTOMERS_EVERY = 50  # existing people seen on a day: one per this many (at least 10)
DAY_BUYER_SHARE = 0.4  # of the existing people seen on a day, those who may order
DAY_ACTIVITY = 0.05  # a day's engagement vs a person's whole history (the base spans two years)
DAY_MERGES_EVERY = 500  # merging devices per day: one per this many existing people (at least 2)
# One id of each kind is pushed over the stitching limits per day (dbt vars
# stitch_max_user_ids_per_anonymous_id and stitch_max_anonymous_ids_per_user_id, defaults 5 and 100).
SUPER_CONNECTOR_USER_IDS = 8
SHARED_ACCOUNT_NEW_DEVICES = 110
# Payloads of a day's new devices: above every person's slots (< MAX_CUSTOMERS * ANON_SLOTS) and
# the kiosks' (1 << 40), one range of 1 << 24 per day, so no anonymous_id repeats.
DAY_DEVICE_PAYLOAD = 1 << 41
DAY_DEVICE_RANGE = 1 << 24
