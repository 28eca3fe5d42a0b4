"""stitching.user_main_id_changes: every profile rename a publish made, kept across runs, so a system
keyed by user_main_id can follow. The build computes its renames against the published graph (dbt
model int_user_main_id_changes); publishing the build appends them, in the publish's transaction."""

from __future__ import annotations

from include.publishing.build import build_schema

HISTORY = "stitching.user_main_id_changes"
BUILD_MODEL = "int_user_main_id_changes"

DDL = f"""create table if not exists {HISTORY} (
    run_id varchar not null,
    previous_user_main_id varchar not null,
    user_main_id varchar not null,
    change varchar not null,
    ids_moved bigint not null,
    changed_at timestamp not null
)"""


def append_sql(colour: str) -> str:
    """The build's renames into the history, once per run (a re-run publish adds nothing). One `?`:
    the run id."""
    source = f"{build_schema('stitching', colour)}.{BUILD_MODEL}"
    return (f"insert into {HISTORY} (run_id, previous_user_main_id, user_main_id, change, ids_moved, changed_at) "
            f"select run_id, previous_user_main_id, user_main_id, change, ids_moved, changed_at from {source} "
            f"where run_id = ? and not exists (select 1 from {HISTORY} as kept where kept.run_id = {source}.run_id)")
