"""Resolve the landing directory of a run: the given one, or freshly generated synthetic data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from include import settings

log = logging.getLogger(__name__)


def synthetic_dir(num_customers: int, seed: int) -> Path:
    return settings.DATA_DIR / "landing" / f"synthetic-{num_customers}-seed{seed}"


def prepare_landing(source_dir: str, num_customers: int, seed: int) -> str:
    """Return the landing directory to load; generates (or reuses, keyed by scale and seed) synthetic
    data when source_dir is empty."""
    if source_dir:
        path = Path(source_dir).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"source_dir {path} does not exist or is not a directory")
        return str(path.resolve())

    from include.synthetic import generate

    out = synthetic_dir(num_customers, seed)
    marker = out / "_generator.json"
    if marker.exists():
        summary = json.loads(marker.read_text())
        log.info("reusing synthetic landing data at %s: %s", out, summary)
        return str(out)
    log.info("generating synthetic landing data for %d customers (seed %d) in %s", num_customers, seed, out)
    summary = generate(out, num_customers=num_customers, seed=seed, progress=True)
    log.info("generated: %s", summary)
    return str(out)
