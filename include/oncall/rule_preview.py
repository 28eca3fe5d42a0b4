"""Preview a stitching rule change before it lands: build the stitching layer with proposed
thresholds and exclusion entries where readers do not look (`stitching__preview`), and report what
would change against the published graph. Nothing published changes.

The preview copies the dbt project, appends the proposed entries to the copy's seeds
(stitch_exclusion_list, stitch_link_exclusions) and builds only the stitching layer's seeds and models
(staging is read as it is) with the proposed thresholds, through the deployment's dbt profile
(DuckDB file or Snowflake connection). The renames are the build's own int_user_main_id_changes,
computed against the published graph as a publish would record them.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include import settings
from include.warehouse.db import Db

log = logging.getLogger(__name__)

COLOUR = "preview"
PREVIEW_SCHEMA = f"stitching__{COLOUR}"
SELECT = ("path:models/stitching", "path:seeds/stitch_exclusion_list.csv", "path:seeds/stitch_link_exclusions.csv")
TOP = 10
LISTED = 50


class PreviewError(Exception):
    """The preview could not be built; the message says why."""


@dataclass(frozen=True)
class Proposal:
    max_user_ids_per_anonymous_id: int
    max_anonymous_ids_per_user_id: int
    exclude_ids: tuple[dict, ...] = ()
    exclude_links: tuple[dict, ...] = ()

    @staticmethod
    def from_params(params: dict) -> Proposal:
        return Proposal(int(params["stitch_max_user_ids_per_anonymous_id"]),
                        int(params["stitch_max_anonymous_ids_per_user_id"]),
                        tuple(params.get("exclude_ids") or ()), tuple(params.get("exclude_links") or ()))


def _append_rows(seed: Path, rows: list[dict]) -> None:
    """Rows under the seed's own header; columns a row leaves out stay empty."""
    if not rows:
        return
    with seed.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    text = seed.read_text(encoding="utf-8")
    with seed.open("a", encoding="utf-8", newline="") as f:
        if text and not text.endswith("\n"):
            f.write("\n")
        csv.writer(f, lineterminator="\n").writerows([[row.get(c, "") or "" for c in header] for row in rows])


def prepare_project(dest: Path, proposal: Proposal, run_id: str) -> Path:
    shutil.copytree(settings.DBT_PROJECT_DIR, dest, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    _append_rows(dest / "seeds" / "stitch_exclusion_list.csv",
                 [{"id": e["id"], "id_type": e["id_type"], "note": e.get("note") or f"preview {run_id}"}
                  for e in proposal.exclude_ids])
    today = datetime.now(UTC).date().isoformat()
    _append_rows(dest / "seeds" / "stitch_link_exclusions.csv",
                 [{**e, "reason": e.get("reason") or f"preview {run_id}", "decided_by": f"preview {run_id}",
                   "decided_at": today} for e in proposal.exclude_links])
    return dest


def build_preview(proposal: Proposal, run_id: str) -> None:
    """dbt seed + run of the stitching layer into stitching__preview (tests are the real run's job)."""
    from include.orchestration.dbt_cli import run_dbt

    with tempfile.TemporaryDirectory(prefix="c360_preview_") as tmp:
        project = prepare_project(Path(tmp) / "dbt", proposal, run_id)
        env = {"C360_BUILD_COLOUR": COLOUR, "C360_AIRFLOW_RUN_ID": run_id,
               "C360_STITCH_MAX_USER_IDS_PER_ANONYMOUS_ID": str(proposal.max_user_ids_per_anonymous_id),
               "C360_STITCH_MAX_ANONYMOUS_IDS_PER_USER_ID": str(proposal.max_anonymous_ids_per_user_id)}
        built = run_dbt(["build", "--select", *SELECT, "--resource-type", "model", "--resource-type", "seed"],
                        env, project_dir=project)
    if not built.ok:
        raise PreviewError("the preview build failed:\n" + built.errors())


@dataclass
class PreviewReport:
    run_id: str
    proposal: dict
    merged: int = 0
    split: int = 0
    renamed: int = 0
    changes: list[dict] = field(default_factory=list)
    newly_excluded: list[dict] = field(default_factory=list)
    let_back_in: list[dict] = field(default_factory=list)
    largest_before: list[dict] = field(default_factory=list)
    largest_after: list[dict] = field(default_factory=list)
    feature_rows_changed: int = 0
    feature_rows: int = 0
    note: str = ""

    def as_json(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        lines = [f"# Stitching rule preview ({self.run_id})", "", f"Proposal: `{json.dumps(self.proposal)}`", "",
                 f"- profiles merged: **{self.merged}**, split: **{self.split}**, renamed: {self.renamed}",
                 f"- ids newly excluded: **{len(self.newly_excluded)}**, let back in: **{len(self.let_back_in)}**",
                 f"- marts.with_user_id rows that would change: **{self.feature_rows_changed}** of {self.feature_rows}",
                 *([f"- note: {self.note}"] if self.note else []),
                 "", "## Largest profiles (ids): published → preview", ""]
        lines += [f"- {b['user_main_id']} {b['id_count']} → " + (f"{a['user_main_id']} {a['id_count']}" if a else "")
                  for b, a in zip(self.largest_before, self.largest_after + [None] * TOP, strict=False)]
        for title, rows in (("Newly excluded", self.newly_excluded), ("Let back in", self.let_back_in)):
            if rows:
                lines += ["", f"## {title}", ""] + [f"- {r['other_id_type']} `{r['other_id']}`: {r['reason']}"
                                                    for r in rows[:LISTED]]
        if self.changes:
            lines += ["", "## Renames (previous → preview)", ""] + [
                f"- {c['change']}: {c['previous_user_main_id']} → {c['user_main_id']} ({c['ids_moved']} ids)"
                for c in self.changes[:LISTED]]
        lines += ["", f"The preview's tables are in `{PREVIEW_SCHEMA}`; nothing published changed."]
        return "\n".join(lines)


# Per user_id: its profile and a fingerprint of the profile's members (their count and a hash sum):
# a feature row changes when either does.
_USER_PROFILES = """
    with members as (
        select user_main_id, count(*) as ids, sum(hash(other_id_type || ':' || other_id)) as fingerprint
        from stitching.user_id_stitcher group by user_main_id
    )
    select s.other_id, s.user_main_id, m.ids, m.fingerprint
    from stitching.user_id_stitcher as s inner join members as m on s.user_main_id = m.user_main_id
    where s.other_id_type = 'user_id'
"""


def compare(published: Db, preview: Db, run_id: str, proposal: Proposal) -> PreviewReport:
    """published: the warehouse reading the published graph; preview: reading stitching__preview."""
    report = PreviewReport(run_id, asdict(proposal))
    changes = preview.dicts("select previous_user_main_id, user_main_id, change, ids_moved "
                            "from stitching.int_user_main_id_changes order by ids_moved desc, user_main_id")
    report.changes = changes
    for kind in ("merged", "split", "renamed"):
        setattr(report, kind, len({c["user_main_id"] if kind == "merged" else c["previous_user_main_id"]
                                   for c in changes if c["change"] == kind}))
    excluded_sql = "select other_id, other_id_type, reason from stitching.excluded_ids"
    before = {(r["other_id"], r["other_id_type"]): r for r in published.dicts(excluded_sql)}
    after = {(r["other_id"], r["other_id_type"]): r for r in preview.dicts(excluded_sql)}
    report.newly_excluded = sorted((after[k] for k in after.keys() - before.keys()), key=lambda r: r["other_id"])
    report.let_back_in = sorted((before[k] for k in before.keys() - after.keys()), key=lambda r: r["other_id"])
    largest = (f"select user_main_id, id_count, user_id_count, anonymous_id_count from stitching.int_profile_sizes "
               f"order by id_count desc, user_main_id limit {TOP}")
    report.largest_before, report.largest_after = published.dicts(largest), preview.dicts(largest)
    old = {row[0]: row[1:] for row in published.rows(_USER_PROFILES)}
    new = {row[0]: row[1:] for row in preview.rows(_USER_PROFILES)}
    report.feature_rows = len(old)
    report.feature_rows_changed = sum(1 for u in old.keys() | new.keys() if old.get(u) != new.get(u))
    return report


def run_preview(params: dict, run_id: str) -> dict[str, Any]:
    """The DAG's task: build, compare, record in audit.stitching_investigations, log the markdown."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.oncall.investigation import insert_report_row
    from include.publishing.build import latest_build, published_build, reading
    from include.warehouse import connect_warehouse

    proposal = Proposal.from_params(params)
    with connect_warehouse(must_exist=True) as db:
        if reading(db, "published") is db:
            raise AirflowFailException("nothing is published yet: run customer_360 until its gate passes")
    try:
        build_preview(proposal, run_id)
    except PreviewError as exc:
        raise AirflowFailException(str(exc)) from None
    with connect_warehouse(must_exist=True) as db:
        report = compare(reading(db, "published"), db.with_schemas({"stitching": PREVIEW_SCHEMA}), run_id, proposal)
        published, latest = published_build(db), latest_build(db)
        if latest.run_id != published.run_id:
            # Staging is not published: it holds the latest run's data, which the preview reads.
            report.note = (f"staging holds the data of run {latest.run_id}, which is not published; the "
                           f"differences include its data, not only the proposed rules")
        insert_report_row(db, {"investigation_run_id": run_id, "kind": "preview",
                               "requested": json.dumps(report.proposal), "report_markdown": report.markdown(),
                               "answer_json": json.dumps(report.as_json(), default=str)})
    log.info("stitching rule preview (also in audit.stitching_investigations):\n\n%s", report.markdown())
    return {k: v for k, v in report.as_json().items() if k in ("merged", "split", "feature_rows_changed")} | {
        "newly_excluded": len(report.newly_excluded), "let_back_in": len(report.let_back_in)}
