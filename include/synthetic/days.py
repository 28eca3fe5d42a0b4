"""The next day of an existing synthetic landing directory: new part files only.

    from include.synthetic import next_day
    python -m include.synthetic --out DIR --next-day [--seed S] [--new-customers N] [--active-customers N]

The day is the one after the directory's last: the base data lies before its reference_date, so its
first next day is that date, and each later call adds the day after the last one written. A day
writes <source>/part-<yyyymmdd>-00000.<format> for the four per-customer sources (the catalogues do
not change) and, last, _day-<yyyymmdd>.json, its summary. No existing file is opened for writing, so
an incremental load skips them all (same name, size and hash) and reads only the day's files.

A day holds:

- new people, numbered after everyone so far, with their devices, identify events and orders, drawn
  as the base draws people but with a day's worth of activity;
- identify events and orders of existing people (the base's and earlier days' new people);
- profile merges: a new device seen with the user_ids of two existing people;
- ids pushed over the stitching limits: an existing person's device seen with the user_ids of
  SUPER_CONNECTOR_USER_IDS other people (a super-connector), and an existing person's user_id seen on
  SHARED_ACCOUNT_NEW_DEVICES new devices (a shared account).

Existing people are not read back from the files: their ids are replayed from the same seeded draws
(draw_people and draw_devices are the first draws of a base block and of a day's new people), which
reads nothing and costs a fraction of the base generation. Event, order and order-item ids continue
the counters of the base and the earlier days (their summaries' row counts), so none repeats: the
loader quarantines a re-sent event id that carries other values. Randomness comes from
(seed, 2, day_number, k) only, so a day is deterministic for a given landing and seed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from include.synthetic.context import Context, build_context
from include.synthetic.generator import BLOCK_CUSTOMERS, MAX_SEED, integer
from include.synthetic.identities import Links, draw_devices, identify_tables, identity_links
from include.synthetic.orders import order_tables
from include.synthetic.people import People, draw_people
from include.synthetic.schemas import PER_CUSTOMER_SOURCES, SCHEMAS
from include.synthetic.values import in_block, mix64, seeded_rng, uuid_strings
from include.synthetic.vocabulary import (
    DAY,
    DAY_ACTIVE_CUSTOMERS_EVERY,
    DAY_ACTIVITY,
    DAY_BUYER_SHARE,
    DAY_DEVICE_PAYLOAD,
    DAY_DEVICE_RANGE,
    DAY_MERGES_EVERY,
    DAY_NEW_CUSTOMERS_EVERY,
    MAX_CUSTOMERS,
    SHARED_ACCOUNT_NEW_DEVICES,
    SUPER_CONNECTOR_USER_IDS,
)
from include.synthetic.writers import SourceWriter

BASE_SUMMARY = "_generator.json"
# A day's part files: part-<yyyymmdd>-NNNNN.<format> (hidden while being written).
_DAY_PART = re.compile(r"^\.?part-(\d{8})-\d{5}\.")

Tables = dict[str, pa.Table]


def _utc_date(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _day_stamp(day: date) -> str:
    return day.strftime("%Y%m%d")


@dataclass(frozen=True)
class Landing:
    """What a landing directory holds, from its summaries: the base's and each day's, in date order."""

    base: dict
    days: list[dict]

    @property
    def seed(self) -> int:
        return int(self.base["seed"])

    @property
    def base_customers(self) -> int:
        return int(self.base["num_customers"])

    @property
    def customers(self) -> int:
        return self.base_customers + sum(int(d["new_customers"]) for d in self.days)

    @property
    def first_day(self) -> date:
        # The base's timeline ends at its reference instant (exclusive): its last day is the one
        # holding the instant just before.
        return (_utc_date(self.base["reference_date"]) - timedelta(microseconds=1)).date() + timedelta(days=1)

    @property
    def next_date(self) -> date:
        return date.fromisoformat(self.days[-1]["day"]) + timedelta(days=1) if self.days else self.first_day

    def counters(self) -> dict[str, int]:
        """Rows written so far per source: the next ids (event counters, order numbers) start there."""
        return {s: int(self.base["rows"][s]) + sum(int(d["rows"][s]) for d in self.days)
                for s in PER_CUSTOMER_SOURCES}


def read_landing(out: Path) -> Landing:
    """The summaries of a complete landing directory; refuses one whose last day was interrupted."""
    marker = out / BASE_SUMMARY
    if not marker.is_file():
        raise ValueError(f"{out} holds no complete synthetic landing data ({BASE_SUMMARY} is missing): "
                         "generate it first")
    base = json.loads(marker.read_text())
    days = sorted((json.loads(p.read_text()) for p in out.glob("_day-*.json")), key=lambda d: d["day"])
    known = {d["day"].replace("-", "") for d in days}
    for source in PER_CUSTOMER_SOURCES:
        for path in sorted((out / source).iterdir()):
            match = _DAY_PART.match(path.name)
            # Its summary is written last: part files without one are a day that did not finish.
            if match and match.group(1) not in known:
                raise ValueError(f"{path} belongs to a day without a summary (an interrupted next day): "
                                 "remove that day's part files first")
    return Landing(base, days)


# --- existing people, replayed ------------------------------------------------------------------


def _newcomer_rng(seed: int, day_number: int) -> np.random.Generator:
    return seeded_rng(seed, 2, day_number, 0)


def _take(people: People, idx: np.ndarray) -> People:
    """The people at idx (local indices), with their first and second user_ids."""
    both = pa.array(np.concatenate([idx, idx + people.size]))
    return People(start=0, engagement=people.engagement[idx], since=people.since[idx],
                  has_second=people.has_second[idx], user_ids=people.user_ids.take(both),
                  emails=people.emails.take(both))


def _drawn(ctx: Context, rng: np.random.Generator, start: int, stop: int, wanted: np.ndarray
           ) -> tuple[People, pa.Array, np.ndarray]:
    """Redraw customers [start, stop) as they were first drawn; keep the wanted ones and their devices."""
    people = draw_people(ctx, rng, start, stop)
    devices, owner = draw_devices(ctx, rng, people)
    keep = wanted[in_block(wanted, start, stop)] - start
    mask = np.isin(owner, keep)
    return _take(people, keep), devices.filter(pa.array(mask)), np.searchsorted(keep, owner[mask])


def _concat(parts: list[tuple[People, pa.Array, np.ndarray]]) -> tuple[People, pa.Array, np.ndarray]:
    sizes = [p.size for p, _, _ in parts]
    firsts = [p.user_ids.slice(0, p.size) for p, _, _ in parts]
    seconds = [p.user_ids.slice(p.size) for p, _, _ in parts]
    first_mails = [p.emails.slice(0, p.size) for p, _, _ in parts]
    second_mails = [p.emails.slice(p.size) for p, _, _ in parts]
    people = People(
        start=0,
        engagement=np.concatenate([p.engagement for p, _, _ in parts]),
        since=np.concatenate([p.since for p, _, _ in parts]),
        has_second=np.concatenate([p.has_second for p, _, _ in parts]),
        user_ids=pa.concat_arrays(firsts + seconds),
        emails=pa.concat_arrays(first_mails + second_mails),
    )
    offsets = np.cumsum([0, *sizes[:-1]])
    owner = np.concatenate([o + off for (_, _, o), off in zip(parts, offsets, strict=True)])
    return people, pa.concat_arrays([d for _, d, _ in parts]), owner


def replay(ctx: Context, landing: Landing, customers: np.ndarray) -> tuple[People, pa.Array, np.ndarray]:
    """People, devices and device owners (indices into the people) of existing customers (sorted
    global numbers), redrawn from the seeds that first drew them."""
    parts = []
    base = customers[customers < landing.base_customers]
    for index in np.unique(base // BLOCK_CUSTOMERS).tolist():
        start = index * BLOCK_CUSTOMERS
        stop = min(start + BLOCK_CUSTOMERS, landing.base_customers)
        parts.append(_drawn(ctx, seeded_rng(ctx.seed, 1, index), start, stop, base))
    for day in landing.days:
        start, stop = day["customers"]
        rows = in_block(customers, start, stop)
        if rows.stop > rows.start:
            parts.append(_drawn(ctx, _newcomer_rng(day["seed"], day["day_number"]), start, stop, customers))
    return _concat(parts)


# --- the day's rows ---------------------------------------------------------------------------------


def _newcomers(ctx: Context, rng: np.random.Generator, start: int, stop: int, day_start: int,
               until: int) -> Tables:
    """New people, drawn as the base draws people: their devices, identify events and orders."""
    if stop == start:
        return {}
    people = draw_people(ctx, rng, start, stop)
    devices, owner = draw_devices(ctx, rng, people)
    # Drawn after the two draws a later day replays: first seen in the day's first half, and as busy
    # as a day of a person's two-year history.
    people = replace(people, engagement=people.engagement * DAY_ACTIVITY,
                     since=day_start + rng.integers(0, DAY // 2, people.size))
    links = identity_links(ctx, rng, people, owner)
    tables = identify_tables(ctx, rng, people, devices, links, until=until)
    tables.update(order_tables(ctx, rng, people, until=until))
    return {source: table for source, (table, _) in tables.items()}


@dataclass(frozen=True)
class Roles:
    """Existing people (global numbers) a day gives a part; pairs are rows of `merges`."""

    seen: np.ndarray
    buyers: np.ndarray
    merges: np.ndarray  # (k, 2): the two people a new device links
    connector_host: int  # whose first device becomes a super-connector
    connector_users: np.ndarray
    shared_owner: int  # whose first user_id becomes a shared account

    def cast(self) -> np.ndarray:
        return np.unique(np.concatenate([self.seen, self.merges.ravel(), self.connector_users,
                                         [self.connector_host, self.shared_owner]]).astype(np.int64))


def _roles(ctx: Context, rng: np.random.Generator, existing: int, active: int) -> Roles:
    seen = np.sort(rng.choice(existing, active, replace=False))
    buyers = seen[rng.random(seen.size) < DAY_BUYER_SHARE]
    # Merges and pushes start from ordinary people: a shared account is excluded already.
    ordinary = np.setdiff1d(np.arange(existing), ctx.specials.shared_customer)
    order = rng.permutation(ordinary)
    merges = max(2, existing // DAY_MERGES_EVERY)
    need = 2 + SUPER_CONNECTOR_USER_IDS + 2 * merges
    # Roles are consecutive runs of one permutation: people within a role are distinct; on a small
    # landing the runs wrap around, so two roles may share a person.
    picked = order[np.arange(need) % order.size]
    return Roles(seen=seen, buyers=buyers, merges=picked[2 + SUPER_CONNECTOR_USER_IDS:].reshape(merges, 2),
                 connector_host=int(picked[0]), connector_users=picked[1:1 + SUPER_CONNECTOR_USER_IDS],
                 shared_owner=int(picked[1 + SUPER_CONNECTOR_USER_IDS]))


def _seen_links(rng: np.random.Generator, links: Links, people: People, first_device: np.ndarray,
                devices_of: np.ndarray, who: np.ndarray) -> None:
    """A day of the usual activity of existing people: identified and anonymous events on one of
    their devices, and server-side events without a device."""
    k, n = who.size, people.size

    def a_device() -> np.ndarray:
        return first_device[who] + np.floor(rng.random(k) * devices_of[who]).astype(np.int64)

    user = np.where(people.has_second[who] & (rng.random(k) < 0.3), who + n, who)
    links.add(who, a_device(), user, 1 + rng.poisson(1.5, k), 0.72, True)
    links.add(who, a_device(), -1, rng.poisson(0.8, k), 0.85, False)
    links.add(who, -1, who, rng.poisson(0.3, k), 0.1, True)


def _special_links(rng: np.random.Generator, links: Links, roles: Roles, cast: np.ndarray,
                   first_device: np.ndarray, new_device: int) -> None:
    """Merges, a super-connector and a shared account; new devices are numbered from new_device."""
    pairs = np.searchsorted(cast, roles.merges)
    merge_device = new_device + np.arange(pairs.shape[0])
    for side in (0, 1):
        links.add(pairs[:, side], merge_device, pairs[:, side], 1 + rng.poisson(1.0, merge_device.size), 0.72, True)
    # A kiosk: the host's own device, then logged into by other people.
    users = np.searchsorted(cast, roles.connector_users)
    host_device = first_device[np.searchsorted(cast, roles.connector_host)]
    links.add(users, host_device, users, np.ones(users.size), 0.7, False)
    # A login handed around: one user_id on many new devices.
    owner = np.full(SHARED_ACCOUNT_NEW_DEVICES, np.searchsorted(cast, roles.shared_owner))
    shared_device = new_device + merge_device.size + np.arange(SHARED_ACCOUNT_NEW_DEVICES)
    links.add(owner, shared_device, owner, np.ones(owner.size), 0.72, True)


def _new_devices(ctx: Context, rng: np.random.Generator, day_number: int, count: int) -> pa.Array:
    payload = np.uint64(DAY_DEVICE_PAYLOAD + day_number * DAY_DEVICE_RANGE) + np.arange(count, dtype=np.uint64)
    return uuid_strings(rng.integers(0, 2**64, count, dtype=np.uint64), mix64(payload ^ ctx.keys[0]))


def _regulars(ctx: Context, rng: np.random.Generator, landing: Landing, roles: Roles, day_number: int,
              day_start: int, until: int) -> Tables:
    """The existing people's day: their events and orders, and the merging and limit-crossing links."""
    cast = roles.cast()
    people, devices, owner = replay(ctx, landing, cast)
    people = replace(people, engagement=people.engagement * DAY_ACTIVITY, since=np.full(cast.size, day_start))
    devices_of = np.bincount(owner, minlength=cast.size)
    first_device = np.cumsum(devices_of) - devices_of
    links = Links()
    _seen_links(rng, links, people, first_device, devices_of, np.searchsorted(cast, roles.seen))
    _special_links(rng, links, roles, cast, first_device, len(devices))
    fresh = _new_devices(ctx, rng, day_number, len(roles.merges) + SHARED_ACCOUNT_NEW_DEVICES)
    tables = identify_tables(ctx, rng, people, pa.concat_arrays([devices, fresh]), links, until=until)
    tables.update(order_tables(ctx, rng, _take(people, np.searchsorted(cast, roles.buyers)), until=until))
    return {source: table for source, (table, _) in tables.items()}


# --- writing --------------------------------------------------------------------------------------


def _write(out: Path, day: date, file_format: str, parts: list[Tables]) -> tuple[dict, dict]:
    rows, files = {}, {}
    for source in PER_CUSTOMER_SOURCES:
        writer = SourceWriter(out / source, SCHEMAS[source], file_format, stem=f"part-{_day_stamp(day)}-")
        for part in parts:
            if source in part:
                writer.write(part[source])
        writer.next_part()
        rows[source] = writer.rows
        files[source] = [f"{source}/{name}" for name in writer.files]
    return rows, files


def next_day(out_dir: str | Path, seed: int | None = None, new_customers: int | None = None,
             active_customers: int | None = None, progress: bool = False) -> dict:
    """Add the next day to a landing directory written by generate() (and earlier next days): new part
    files and _day-<yyyymmdd>.json, whose content this returns. seed defaults to the landing's own;
    new_customers to one per DAY_NEW_CUSTOMERS_EVERY base customers (at least 2), active_customers
    (existing people with events that day) to one per DAY_ACTIVE_CUSTOMERS_EVERY (at least 10)."""
    out = Path(out_dir)
    landing = read_landing(out)
    seed = landing.seed if seed is None else integer("seed", seed, 0, MAX_SEED)
    existing = landing.customers
    if new_customers is None:
        new_customers = max(2, landing.base_customers // DAY_NEW_CUSTOMERS_EVERY)
    new_customers = integer("new_customers", new_customers, 0, MAX_CUSTOMERS - existing)
    if active_customers is None:
        active_customers = min(existing, max(10, existing // DAY_ACTIVE_CUSTOMERS_EVERY))
    active_customers = integer("active_customers", active_customers, 0, existing)
    ctx = build_context(landing.seed, landing.base_customers)
    if existing - ctx.specials.shared_customer.size <= SUPER_CONNECTOR_USER_IDS:
        raise ValueError(f"a next day needs more than {SUPER_CONNECTOR_USER_IDS + 1} existing customers "
                         f"who are not shared accounts (a super-connector links that many); {out} has {existing}")

    day = landing.next_date
    day_number = (day - landing.first_day).days
    day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    ctx.counters = landing.counters()  # the day's ids continue the earlier ones
    first_ids = dict(ctx.counters)
    roles = _roles(ctx, seeded_rng(seed, 2, day_number, 1), existing, active_customers)
    parts = [
        _newcomers(ctx, _newcomer_rng(seed, day_number), existing, existing + new_customers, day_start,
                   day_start + DAY),
        _regulars(ctx, seeded_rng(seed, 2, day_number, 2), landing, roles, day_number, day_start,
                  day_start + DAY),
    ]
    rows, files = _write(out, day, landing.base["file_format"], parts)
    summary = {
        "generator": "include.synthetic.days",
        "day": day.isoformat(),
        "day_number": day_number,
        "seed": seed,
        # Where the day's timeline ends, as the base summary's reference_date says for the base.
        "reference_date": f"{day + timedelta(days=1):%Y-%m-%d}T00:00:00Z",
        "customers": [existing, existing + new_customers],
        "new_customers": new_customers,
        "active_customers": active_customers,
        "links": {
            "merging_anonymous_ids": len(roles.merges),
            "super_connector_user_ids": SUPER_CONNECTOR_USER_IDS,
            "shared_account_new_devices": SHARED_ACCOUNT_NEW_DEVICES,
        },
        "first_row_numbers": first_ids,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "files": files,
    }
    # Written last and atomically: its presence means the day is complete.
    path = out / f"_day-{_day_stamp(day)}.json"
    tmp = out / f".{path.name}.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, path)
    if progress:
        print(f"next day {day}: {new_customers:,} new and {active_customers:,} active customers, "
              f"{summary['total_rows']:,} rows", file=sys.stderr, flush=True)
    return summary
