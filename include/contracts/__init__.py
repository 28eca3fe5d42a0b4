"""The landing-file contract (sources.yml) as typed objects the loader and the tests share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from include import settings

# Contract type -> DuckDB type of the raw column.
DUCKDB_TYPES = {
    "string": "varchar",
    "timestamp": "timestamp",
    "decimal(18,2)": "decimal(18,2)",
    "integer": "bigint",
    "boolean": "boolean",
}

_MIN_RULE = re.compile(r"^\s*>=\s*(-?\d+)\s*$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    accepted_values: tuple[str, ...] = ()
    min_value: int | None = None

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Source:
    name: str
    primary_key: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _column(name: str, spec: dict) -> Column:
    kind = str(spec.get("type", "string")).replace(" ", "")
    if kind not in DUCKDB_TYPES:
        raise ValueError(f"sources.yml: column {name!r} has unknown type {kind!r}")
    # The contract states value floors in prose (quantity: ">= 1"); that prose is the rule.
    floor = _MIN_RULE.match(str(spec.get("description", "")))
    return Column(
        name=name,
        type=kind,
        required=bool(spec.get("required", False)),
        accepted_values=tuple(str(v) for v in spec.get("accepted_values", ())),
        min_value=int(floor.group(1)) if floor else None,
    )


@cache
def load_sources(path: Path | None = None) -> dict[str, Source]:
    path = path or settings.CONTRACTS_DIR / "sources.yml"
    raw = yaml.safe_load(Path(path).read_text())["sources"]
    sources: dict[str, Source] = {}
    for name, spec in raw.items():
        columns_spec = raw[spec["same_columns_as"]]["columns"] if "same_columns_as" in spec else spec["columns"]
        columns = tuple(_column(col, col_spec or {}) for col, col_spec in columns_spec.items())
        sources[name] = Source(name=name, primary_key=spec["primary_key"], columns=columns)
    return sources


@cache
def output_tables() -> dict[str, dict]:
    """The output contract (outputs.yml): schema.table -> its grain, description and columns."""
    return yaml.safe_load((settings.CONTRACTS_DIR / "outputs.yml").read_text())["tables"]
