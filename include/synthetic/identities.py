"""Devices, identity links and the two identify tables (web analytics.js, server-side ruby)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from include.synthetic.context import Context
from include.synthetic.people import People
from include.synthetic.schemas import LIBRARY, SCHEMAS
from include.synthetic.values import in_block, mix64, pick, timestamps, uuid_strings
from include.synthetic.vocabulary import (
    ANON_ONLY_EVENTS,
    ANON_SLOTS,
    FAMILY_DEVICE_SHARE,
    IDENTIFIED_EVENTS,
    REFERENCE_TS,
    TEMPLATE_ANONYMOUS_ID,
    TEMPLATE_USER_ID,
    USER_ONLY_EVENTS,
)


@dataclass
class Links:
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


def draw_devices(ctx: Context, rng: np.random.Generator, people: People
                 ) -> tuple[pa.Array, np.ndarray]:
    """Each person's anonymous_ids: returns the ids and the owner of each."""
    n, start = people.size, people.start
    count = np.minimum(rng.geometric(0.45, n), 20)
    sp = ctx.specials
    window = in_block(sp.shared_customer, start, start + n)
    count[sp.shared_customer[window] - start] = sp.shared_devices[window]
    owner = np.repeat(np.arange(n), count)
    slot = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    payload = (owner + start).astype(np.uint64) * np.uint64(ANON_SLOTS) + slot.astype(np.uint64)
    hi = rng.integers(0, 2**64, owner.size, dtype=np.uint64)
    return uuid_strings(hi, mix64(payload ^ ctx.keys[0])), owner


def identity_links(ctx: Context, rng: np.random.Generator, people: People,
                   owner: np.ndarray) -> Links:
    n, start, g = people.size, people.start, people.engagement
    n_dev = owner.size
    per_person = np.bincount(owner, minlength=n)
    first_device = np.cumsum(per_person) - per_person
    is_first = np.zeros(n_dev, dtype=bool)
    is_first[first_device[per_person > 0]] = True
    links = Links()
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


def _family_links(rng: np.random.Generator, links: Links, owner: np.ndarray, n: int) -> None:
    """A few devices are shared by 2-4 people of the household (their profiles rightly merge)."""
    if n < 2:
        return
    shared = np.flatnonzero(rng.random(owner.size) < FAMILY_DEVICE_SHARE)
    others = rng.integers(1, 4, shared.size)
    device = np.repeat(shared, others)
    member = (owner[device] + rng.integers(1, n, device.size)) % n
    links.add(member, device, member, 1 + rng.poisson(2.0, device.size), 0.75, True)


def _special_links(ctx: Context, rng: np.random.Generator, links: Links, start: int, n: int,
                   n_dev: int, first_device: np.ndarray) -> None:
    """Kiosk/bot devices and template ids, whose member lists were drawn for everyone at once."""
    sp = ctx.specials
    window = in_block(sp.connector_customer, start, start + n)
    member = sp.connector_customer[window] - start
    device = n_dev + sp.connector_index[window]
    links.add(member, device, member, 1 + rng.poisson(1.0, member.size), 0.7, False)
    template_anon = n_dev + len(sp.connector_ids)
    member = sp.template_anon_customer[in_block(sp.template_anon_customer, start, start + n)]
    member = member - start
    links.add(member, template_anon, member, 1 + rng.poisson(0.5, member.size), 0.5, False)
    member = sp.template_user_customer[in_block(sp.template_user_customer, start, start + n)]
    member = member - start
    links.add(member, first_device[member], 2 * n, np.ones(member.size), 0.5, False)


def identify_tables(ctx: Context, rng: np.random.Generator, people: People, devices: pa.Array,
                    links: Links, until: int = REFERENCE_TS) -> dict[str, tuple[pa.Table, np.ndarray]]:
    """Events fall between each person's first-seen instant and `until` (a next day ends there)."""
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
        rng.random(size) * (until - people.since[customer])
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
                uuid_strings(hi[pos], mix64(counter ^ key)),
                pick(anon_values, anon[pos], anon[pos] < 0),
                pick(user_values, user[pos], user[pos] < 0),
                timestamps(ts[pos]),
                timestamps(ts[pos] + lag[pos]),
                pick(people.emails, user[pos], ~with_email[pos]),
                pick([LIBRARY[source]], np.zeros(pos.size, dtype=np.int64)),
            ],
            schema=SCHEMAS[source],
        )
        out[source] = (table, customer[pos] + people.start)
    return out
