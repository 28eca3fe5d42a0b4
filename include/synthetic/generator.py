"""Deterministic synthetic landing data for the Customer 360 pipeline: the orchestration.

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

include/synthetic/days.py adds the next day to such a directory (new part files only).
"""

from __future__ import annotations

import json
import operator
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from include.synthetic.context import Context, build_context
from include.synthetic.identities import draw_devices, identify_tables, identity_links
from include.synthetic.orders import order_tables
from include.synthetic.people import draw_people
from include.synthetic.schemas import FORMATS, PER_CUSTOMER_SOURCES, SCHEMAS, SOURCES
from include.synthetic.values import seeded_rng
from include.synthetic.vocabulary import MAX_CUSTOMERS, REFERENCE_DATE
from include.synthetic.writers import SourceWriter, Stream, prepare_out_dir, slice_bounds, write_catalogue

MAX_FILES_PER_SOURCE = 1000
MAX_SEED = 2**63 - 1

# The unit of randomness: each block has its own SeedSequence, so the content of a block never
# depends on how blocks are batched into write chunks or split across files.
BLOCK_CUSTOMERS = 2_000


def _block(ctx: Context, index: int, start: int, stop: int
           ) -> dict[str, tuple[pa.Table, np.ndarray]]:
    """All per-customer rows of customers [start, stop), each with the customer of every row."""
    rng = seeded_rng(ctx.seed, 1, index)
    people = draw_people(ctx, rng, start, stop)
    devices, owner = draw_devices(ctx, rng, people)
    links = identity_links(ctx, rng, people, owner)
    tables = identify_tables(ctx, rng, people, devices, links)
    tables.update(order_tables(ctx, rng, people))
    return tables


def integer(name: str, value: object, low: int, high: int) -> int:
    """value as an int within [low, high], or a ValueError naming the argument."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low:,} and {high:,}, got {number:,}")
    return number


def _validate(num_customers: object, seed: object, file_format: object,
              files_per_source: object) -> None:
    customers = integer("num_customers", num_customers, 1, MAX_CUSTOMERS)
    integer("seed", seed, 0, MAX_SEED)
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
    prepare_out_dir(out)
    ctx = build_context(seed, num_customers)
    writers = {s: SourceWriter(out / s, SCHEMAS[s], file_format) for s in SOURCES}
    write_catalogue(writers["products"], ctx.catalogue.products, files_per_source)
    write_catalogue(writers["designs"], ctx.catalogue.designs, files_per_source)

    stream = Stream(writers, slice_bounds(num_customers, files_per_source), progress,
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
