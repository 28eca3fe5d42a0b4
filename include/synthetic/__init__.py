"""Synthetic landing data for demos, tests and benchmarks.

    from include.synthetic import generate, next_day
    python -m include.synthetic --out DIR [--customers N] [--seed S] [--format csv|parquet]
                                [--files-per-source K] [--quiet]
    python -m include.synthetic --out DIR --next-day [--seed S] [--new-customers N]
                                [--active-customers N] [--quiet]

Modules, one concern each (imports flow downwards):

- vocabulary: names, products, themes, the reference date and the per-customer behaviour means;
- schemas:    sources, Arrow schemas and file formats of the landing contract;
- values:     vectorised string/id/timestamp/decimal builders and the seeded rng helpers;
- catalogue:  products and designs (prices, popularity, complementary pairs);
- context:    what all blocks share: id keys, the catalogue, the cross-customer shapes, counters;
- people:     the people of one block (user_ids, e-mails, engagement);
- identities: devices, identity links and the identify tables;
- orders:     orders and order items;
- writers:    the out directory, part-file writers and the chunked stream;
- generator:  generate(): validation and the per-block orchestration;
- days:       next_day(): the next day of an existing directory, in new part files only;
- cli:        the argparse entry point behind ``python -m include.synthetic``.
"""

from include.synthetic.cli import main
from include.synthetic.days import next_day
from include.synthetic.generator import BLOCK_CUSTOMERS, MAX_FILES_PER_SOURCE, generate
from include.synthetic.schemas import FORMATS, SCHEMAS, SOURCES
from include.synthetic.vocabulary import MAX_CUSTOMERS, REFERENCE_DATE

__all__ = [
    "BLOCK_CUSTOMERS",
    "FORMATS",
    "MAX_CUSTOMERS",
    "MAX_FILES_PER_SOURCE",
    "REFERENCE_DATE",
    "SCHEMAS",
    "SOURCES",
    "generate",
    "main",
    "next_day",
]
