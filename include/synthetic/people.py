"""The people of one block: engagement, first-seen dates, user_ids and e-mails."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.synthetic.context import Context
from include.synthetic.values import M32, hex_digits, mix32, pick, sha1_hex, strings_from_fixed, with_prefix
from include.synthetic.vocabulary import (
    DAY,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    MAX_CUSTOMERS,
    REFERENCE_TS,
    SECOND_USER_SHARE,
    SHA1_USER_SHARE,
    WINDOW_DAYS,
)


@dataclass
class People:
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


def draw_people(ctx: Context, rng: np.random.Generator, start: int, stop: int) -> People:
    n = stop - start
    customer = np.arange(start, stop, dtype=np.uint64)
    sha_user = rng.random(n) < SHA1_USER_SHARE
    has_second = rng.random(n) < SECOND_USER_SHARE
    first = pick(FIRST_NAMES, rng.integers(0, len(FIRST_NAMES), n))
    last = pick(LAST_NAMES, rng.integers(0, len(LAST_NAMES), n))
    # Tokens are bijections of the customer number, so ids and e-mails are unique by construction.
    key_user, key_mail = ctx.keys[1] & M32, ctx.keys[2] & M32
    user_ids, emails = [], []
    for offset, hashed in ((0, sha_user), (MAX_CUSTOMERS, sha_user & has_second)):
        mail_token = strings_from_fixed(hex_digits(mix32((customer + offset) ^ key_mail), 8))
        domain = pick(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), n))
        email = pc.binary_join_element_wise(first, ".", last, ".", mail_token, "@", domain, "")
        plain = strings_from_fixed(
            with_prefix("u_", hex_digits(mix32((customer + offset) ^ key_user), 8))
        )
        picked = np.flatnonzero(hashed)
        slot = np.full(n, -1)
        slot[picked] = np.arange(picked.size)
        sha = pick(sha1_hex(email.take(pa.array(picked)).to_pylist()), slot, slot < 0)
        user_ids.append(pc.if_else(pa.array(hashed), sha, plain))
        emails.append(email)
    return People(
        start=start,
        engagement=rng.gamma(1.2, 1 / 1.2, n),
        since=REFERENCE_TS - rng.integers(60 * DAY, WINDOW_DAYS * DAY, n),
        has_second=has_second,
        user_ids=pa.concat_arrays(user_ids),
        emails=pa.concat_arrays(emails),
    )
