"""The pipeline's operating policy (include/pipeline.yml) as typed objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

import yaml

from include import settings


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    retry_delay: timedelta

    @classmethod
    def from_yaml(cls, spec: dict) -> RetryPolicy:
        return cls(retries=int(spec["retries"]), retry_delay=timedelta(seconds=int(spec["retry_delay_seconds"])))


@dataclass(frozen=True)
class Layer:
    name: str
    select: tuple[str, ...]
    retry: RetryPolicy


@dataclass(frozen=True)
class PipelineConfig:
    loads: RetryPolicy
    layers: tuple[Layer, ...]
    gate: dict
    dbt_execution_mode: str


# The DAG chains the layers in the order the file lists them; that order is dbt's dependency order.
LAYER_ORDER = ("staging", "stitching", "marts", "analytics")
# How Cosmos runs dbt (include/orchestration/dbt_layers.py).
DBT_EXECUTION_MODES = ("watcher", "local")


@cache
def load_pipeline_config(path: Path | None = None) -> PipelineConfig:
    path = Path(path or settings.PIPELINE_CONFIG)
    raw = yaml.safe_load(path.read_text())
    if tuple(raw["layers"]) != LAYER_ORDER:
        raise ValueError(f"{path}: layers must be listed as {', '.join(LAYER_ORDER)}; found {', '.join(raw['layers'])}")
    layers = tuple(
        Layer(name=name, select=tuple(spec["select"]), retry=RetryPolicy.from_yaml(spec))
        for name, spec in raw["layers"].items()
    )
    mode = raw.get("dbt_execution_mode", DBT_EXECUTION_MODES[0])
    if mode not in DBT_EXECUTION_MODES:
        raise ValueError(f"{path}: dbt_execution_mode must be one of {', '.join(DBT_EXECUTION_MODES)}; found {mode!r}")
    return PipelineConfig(loads=RetryPolicy.from_yaml(raw["loads"]), layers=layers, gate=raw["gate"],
                          dbt_execution_mode=mode)
