"""`python -m bench` / `make bench`: the whole benchmark suite (see bench/suite.py)."""

from bench.suite import main

raise SystemExit(main())
