"""The Airflow Assets a publish emits: one per contract table of the published layers. Downstream
DAGs schedule on them (dags/customer_features_export.py); the event's extra carries the run's facts."""

from __future__ import annotations

from airflow.sdk import Asset

from include.contracts import output_tables
from include.publishing.build import published_layers


def contract_asset(table: str) -> Asset:
    schema, name = table.split(".")
    return Asset(name=f"c360.{table}", uri=f"c360://{schema}/{name}", group="customer_360")


def published_assets() -> list[Asset]:
    return [contract_asset(t) for t in sorted(output_tables()) if t.split(".")[0] in published_layers()]


FEATURE_ASSET = contract_asset("marts.with_user_id")
