"""Command line: python -m include.synthetic --out DIR [--customers N] [--seed S]
[--format csv|parquet] [--files-per-source K] [--quiet]

or, to add the next day to DIR: python -m include.synthetic --out DIR --next-day [--seed S]
[--new-customers N] [--active-customers N] [--quiet]"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from include.synthetic.days import next_day
from include.synthetic.generator import generate
from include.synthetic.schemas import FORMATS

# Defaults of a whole generation; a next day takes the landing's own values instead.
DEFAULTS = {"customers": 500, "seed": 42, "format": "csv", "files_per_source": 1}
BASE_ONLY = ("customers", "format", "files_per_source")
DAY_ONLY = ("new_customers", "active_customers")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m include.synthetic", description="Write synthetic Customer 360 landing data."
    )
    parser.add_argument("--out", required=True, type=Path, help="landing directory to write")
    parser.add_argument("--customers", type=int, help="number of people (default 500)")
    parser.add_argument("--seed", type=int, help="random seed (default 42; with --next-day the landing's)")
    parser.add_argument("--format", choices=FORMATS, help="file format (default csv)")
    parser.add_argument("--files-per-source", type=int, help="part files per source (default 1)")
    parser.add_argument("--next-day", action="store_true",
                        help="add the next day to the landing directory --out (new part files only)")
    parser.add_argument("--new-customers", type=int, help="with --next-day: people first seen that day")
    parser.add_argument("--active-customers", type=int, help="with --next-day: existing people seen that day")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    given = {name for name in (*BASE_ONLY, *DAY_ONLY) if getattr(args, name) is not None}
    misplaced = given & set(BASE_ONLY if args.next_day else DAY_ONLY)
    if misplaced:
        options = ", ".join("--" + name.replace("_", "-") for name in sorted(misplaced))
        parser.error(f"{options} cannot be used {'with' if args.next_day else 'without'} --next-day")
    try:
        if args.next_day:
            summary = next_day(args.out, seed=args.seed, new_customers=args.new_customers,
                               active_customers=args.active_customers, progress=not args.quiet)
        else:
            values = {name: DEFAULTS[name] if getattr(args, name) is None else getattr(args, name)
                      for name in DEFAULTS}
            summary = generate(args.out, num_customers=values["customers"], seed=values["seed"],
                               file_format=values["format"], files_per_source=values["files_per_source"],
                               progress=not args.quiet)
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps(summary, indent=2))
    return 0
