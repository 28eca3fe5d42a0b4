"""What every block shares: id keys, the catalogue, the cross-customer shapes and id counters.

Drawn once per run from the (seed, 0) generator, before any block, so a block's rows never
depend on which other blocks exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from include.synthetic.catalogue import Catalogue, build_catalogue
from include.synthetic.schemas import PER_CUSTOMER_SOURCES
from include.synthetic.values import mix64, seeded_rng, uuid_strings
from include.synthetic.vocabulary import CONNECTOR_EVERY, SHARED_ACCOUNT_EVERY, TEMPLATE_EVERY


@dataclass
class Specials:
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


def _specials(rng: np.random.Generator, num_customers: int, anon_key: np.uint64) -> Specials:
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
    return Specials(
        connector_ids=uuid_strings(hi, mix64(payload ^ anon_key)),
        connector_customer=members[order],
        connector_index=which[order],
        shared_customer=shared,
        shared_devices=rng.integers(101, 401, shared.size),
        template_anon_customer=_distinct(rng, num_customers, n_templates),
        template_user_customer=_distinct(rng, num_customers, n_templates),
    )


@dataclass
class Context:
    seed: int
    num_customers: int
    keys: np.ndarray
    catalogue: Catalogue
    specials: Specials
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PER_CUSTOMER_SOURCES, 0))


def build_context(seed: int, num_customers: int) -> Context:
    rng = seeded_rng(seed, 0)
    keys = rng.integers(0, 2**64, 8, dtype=np.uint64)
    catalogue = build_catalogue(rng, num_customers)
    specials = _specials(rng, num_customers, keys[0])
    return Context(seed, num_customers, keys, catalogue, specials)
