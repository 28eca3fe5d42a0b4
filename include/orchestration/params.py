"""The customer_360 run parameters with JSON schemas, so the trigger form and the API refuse a bad
value before any task runs."""

from __future__ import annotations

from airflow.sdk import Param

from include import settings


def dag_params() -> dict[str, Param]:
    return {
        "source_dir": Param(
            settings.default_source_dir(),
            type="string",
            maxLength=4096,
            description="Landing directory (one sub-folder per source). Empty: generate synthetic data.",
        ),
        "num_customers": Param(
            500, type="integer", minimum=10, maximum=5_000_000,
            description="Scale of the synthetic data (used only when source_dir is empty).",
        ),
        # The task groups and the dbt profile are rendered for the deployed target when the DAG file is
        # parsed, so a run cannot switch warehouse: the schema accepts only the deployed one (const),
        # and the API refuses any other before a run exists.
        "target": Param(
            settings.target_name(), type="string", enum=list(settings.TARGETS), const=settings.target_name(),
            description=f"Warehouse to build. This deployment builds {settings.target_name()} (set by C360_TARGET "
            "when the DAG is deployed); a run asking for another target is refused.",
        ),
        "seed": Param(42, type="integer", minimum=0, maximum=2**31 - 1, description="Seed of the synthetic data."),
        "full_refresh": Param(False, type="boolean",
                              description="Reload every landing file and rebuild incremental models from scratch."),
        "shadow_rebuild": Param(
            False,
            type="boolean",
            description="Also rebuild stitching, marts and analytics from scratch (--full-refresh) into the colour "
            "shadow and compare every relation with this run's build; any difference fails the gate. Builds those "
            "layers twice. Result: audit.shadow_rebuilds and the gate's shadow_rebuild check.",
        ),
        "reference_date": Param(
            None, type=["null", "string"], format="date",
            description="Date recency features are computed against (YYYY-MM-DD). Empty: the run's logical date.",
        ),
        "stitch_max_user_ids_per_anonymous_id": Param(
            5, type="integer", minimum=1, maximum=10_000,
            description="An anonymous_id linked to more distinct user_ids is a super-connector and is excluded.",
        ),
        "stitch_max_anonymous_ids_per_user_id": Param(
            100, type="integer", minimum=1, maximum=1_000_000,
            description="A user_id linked to more distinct anonymous_ids is a shared account and is excluded.",
        ),
    }
