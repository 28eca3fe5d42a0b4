"""Command line: python -m include.synthetic --out DIR [--customers N] [--seed S]
[--format csv|parquet] [--files-per-source K] [--quiet]"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from include.synthetic.generator import generate
from include.synthetic.schemas import FORMATS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.synthetic", description="Write synthetic Customer 360 landing data."
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
