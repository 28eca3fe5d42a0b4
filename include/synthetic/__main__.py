"""python -m include.synthetic: see include/synthetic/cli.py."""

from include.synthetic.cli import main

raise SystemExit(main())
