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


@cache
def load_pipeline_config(path: Path | None = None) -> PipelineConfig:
    raw = yaml.safe_load(Path(path or settings.PIPELINE_CONFIG).read_text())
    layers = tuple(
        Layer(name=name, select=tuple(spec["select"]), retry=RetryPolicy.from_yaml(spec))
        for name, spec in raw["layers"].items()
    )
    return PipelineConfig(loads=RetryPolicy.from_yaml(raw["loads"]), layers=layers, gate=raw["gate"])
