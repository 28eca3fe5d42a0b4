"""Why did these ids merge? The Profiles QA steps for one profile, as code.

Given an id (optionally its type) or a user_main_id: the profile's ids, the identify events of both
SDKs that linked them (in time order), the bridge ids - articulation points of the profile's graph,
whose removal splits it - and a suggested fix (an exclusion-list entry or a tighter threshold).
The report goes to audit.stitching_investigations and, as markdown, to the task log.

Everything reads and writes through include.warehouse's Db, so it runs on either target (DuckDB or
Snowflake): one SQL text that both accept, `?` placeholders.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from include.warehouse.db import Db

log = logging.getLogger(__name__)

ID_TYPES = ("user_id", "anonymous_id")
USER_MAIN_ID = re.compile(r"^[0-9a-f]{32}$")
MARKDOWN_ROWS = 40  # rows per section in the log; the table keeps everything

REPORT_DDL = (
    "create schema if not exists audit",
    """create table if not exists audit.stitching_investigations (
    investigation_run_id varchar, requested varchar, user_main_id varchar, ids bigint, user_ids bigint,
    anonymous_ids bigint, linking_events bigint, bridge_ids varchar, suggested_fix varchar,
    report_markdown varchar, created_at timestamp, kind varchar, verdict varchar, answer_json varchar
)""",
)
# Added after the first release (include/oncall/id_path.py's answers): a table made before gets them added,
# its rows keep null there (kind null = 'profile').
ADDED_REPORT_COLUMNS = (("kind", "varchar"), ("verdict", "varchar"), ("answer_json", "varchar"))
REPORT_COLUMNS = ("investigation_run_id", "requested", "user_main_id", "ids", "user_ids", "anonymous_ids",
                  "linking_events", "bridge_ids", "suggested_fix", "report_markdown", "created_at", "kind",
                  "verdict", "answer_json")
INPUT_TABLES = ("stitching.user_id_stitcher", "stitching.excluded_ids", "staging.stg_rudderstack__identifies")


def as_db(con: Db | Any) -> Db:
    """A Db, also from a bare DuckDB or Snowflake connection (the caller keeps owning it)."""
    return con if isinstance(con, Db) else Db(con)


class InvestigationError(Exception):
    """The request cannot be investigated; the message says why and what to try instead."""


@dataclass(frozen=True)
class Bridge:
    other_id: str
    other_id_type: str
    linked_ids: int  # neighbours in the profile graph
    split_sizes: tuple[int, ...]  # sizes of the parts left when it is removed, largest first

    @property
    def separated(self) -> int:
        """Ids cut off from the largest remaining part: how much this id alone holds together."""
        return sum(self.split_sizes[1:])


@dataclass
class Report:
    requested: str
    user_main_id: str
    members: list[tuple[str, str]]
    events: list[tuple]  # source_sdk, event_id, event_at, anonymous_id, user_id, file, row
    bridges: list[Bridge]
    suggested_fix: str
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        users = [i for i, t in self.members if t == "user_id"]
        anons = [i for i, t in self.members if t == "anonymous_id"]
        out = [f"# Stitching investigation: {self.requested}", "",
               f"Profile `{self.user_main_id}`: {len(self.members)} ids ({len(users)} user_ids, "
               f"{len(anons)} anonymous_ids), {len(self.events)} linking identify events.", "",
               "## Suggested fix", "", self.suggested_fix, ""]
        out += ["## Bridge ids (removing one splits the profile)", ""]
        if self.bridges:
            out += ["| id | type | linked ids | parts after removal |", "| --- | --- | --- | --- |"]
            out += [f"| `{b.other_id}` | {b.other_id_type} | {b.linked_ids} | "
                    f"{', '.join(map(str, b.split_sizes[:8]))}{' ...' if len(b.split_sizes) > 8 else ''} |"
                    for b in self.bridges[:MARKDOWN_ROWS]]
        else:
            out.append("None: no single id holds this profile together.")
        out += ["", "## Ids of the profile", "", "| id | type |", "| --- | --- |"]
        out += [f"| `{i}` | {t} |" for i, t in self.members[:MARKDOWN_ROWS]]
        if len(self.members) > MARKDOWN_ROWS:
            out.append(f"| ... {len(self.members) - MARKDOWN_ROWS} more | |")
        out += ["", "## Source rows that linked them (time order)", "",
                "| at | sdk | event_id | anonymous_id | user_id | file:row |", "| --- | --- | --- | --- | --- | --- |"]
        out += [f"| {at:%Y-%m-%d %H:%M:%S} | {sdk} | {eid} | `{anon}` | `{user}` | {file}:{row} |"
                for sdk, eid, at, anon, user, file, row in self.events[:MARKDOWN_ROWS]]
        if len(self.events) > MARKDOWN_ROWS:
            out.append(f"| ... {len(self.events) - MARKDOWN_ROWS} more in staging.stg_rudderstack__identifies | |||||")
        out += [f"\n_{note}_" for note in self.notes]
        return "\n".join(out)


def validate_request(id_value: str | None, id_type: str | None, user_main_id: str | None) -> None:
    id_value = (id_value or "").strip()
    user_main_id = (user_main_id or "").strip()
    if bool(id_value) == bool(user_main_id):
        raise InvestigationError("give exactly one of the params 'id' (with optional 'id_type') or 'user_main_id'")
    if id_type and id_type not in ID_TYPES:
        raise InvestigationError(f"id_type must be one of {', '.join(ID_TYPES)}, not {id_type!r}")
    if user_main_id and not USER_MAIN_ID.match(user_main_id):
        raise InvestigationError(f"user_main_id {user_main_id!r} is not a 32-character lower-case md5 hex string")


def _of_type(id_value: str, id_type: str | None) -> tuple[str, tuple]:
    """The where clause (and its parameters) of one id, of one type when given."""
    if id_type:
        return "where other_id = ? and other_id_type = ?", (id_value, id_type)
    return "where other_id = ?", (id_value,)


def resolve_profile(con: Db | Any, id_value: str | None, id_type: str | None,
                    user_main_id: str | None) -> tuple[str, str]:
    """(user_main_id, description of the request), or InvestigationError with what was found instead."""
    db = as_db(con)
    if user_main_id:
        user_main_id = user_main_id.strip()
        if not db.scalar("select count(*) from stitching.user_id_stitcher where user_main_id = ?", (user_main_id,)):
            raise InvestigationError(f"user_main_id {user_main_id} is not in stitching.user_id_stitcher "
                                     "(profiles are recomputed every run: look it up again in the latest run)")
        return user_main_id, f"user_main_id {user_main_id}"
    id_value = (id_value or "").strip()
    where, params = _of_type(id_value, id_type)
    rows = db.rows(f"select user_main_id, other_id_type from stitching.user_id_stitcher {where}", params)
    described = f"{id_type or 'id'} {id_value!r}"
    if len(rows) == 1:
        return rows[0][0], f"{rows[0][1]} {id_value}"
    if len(rows) > 1:
        raise InvestigationError(f"{described} exists as both user_id and anonymous_id: set id_type")
    excluded = db.rows(f"select other_id_type, reason, detail from stitching.excluded_ids {where} "
                       "order by other_id_type", params)
    if excluded:
        why = "; ".join(f"{t}: {reason} ({detail})" for t, reason, detail in excluded)
        raise InvestigationError(f"{described} was kept out of the identity graph ({why}), so it is in no profile; "
                                 "see stitching.excluded_ids")
    raise InvestigationError(f"{described} is not in stitching.user_id_stitcher nor stitching.excluded_ids: "
                             "check the spelling and id_type (ids are trimmed, case-sensitive)")


def profile_members(con: Db | Any, user_main_id: str) -> list[tuple[str, str]]:
    return as_db(con).rows(
        "select other_id, other_id_type from stitching.user_id_stitcher where user_main_id = ? "
        "order by other_id_type desc, other_id", (user_main_id,))


def linking_events(con: Db | Any, user_main_id: str) -> list[tuple]:
    """Identify events of both SDKs whose two ids both belong to the profile: the graph's edges."""
    return as_db(con).rows(
        """
        with members as (
            select other_id, other_id_type from stitching.user_id_stitcher where user_main_id = ?
        )
        select i.source_sdk, i.event_id, i.event_at, i.anonymous_id, i.user_id, i.landed_file_name,
               i.landed_row_number
        from staging.stg_rudderstack__identifies as i
        inner join members as a on a.other_id = i.anonymous_id and a.other_id_type = 'anonymous_id'
        inner join members as u on u.other_id = i.user_id and u.other_id_type = 'user_id'
        order by i.event_at, i.source_sdk, i.event_id
        """,
        (user_main_id,),
    )


Node = tuple[str, str]  # (other_id_type, other_id)


def articulation_splits(adjacency: dict[Node, set[Node]]) -> dict[Node, tuple[int, ...]]:
    """Articulation points with the sizes of the parts their removal leaves, largest first.

    Tarjan's low-link DFS with subtree sizes, iterative and O(ids + links): a cut-vertex test per
    node with networkx would be quadratic, and an over-stitched profile has tens of thousands of ids."""
    disc: dict[Node, int] = {}
    low: dict[Node, int] = {}
    size: dict[Node, int] = {}
    cut_children: dict[Node, list[int]] = {}
    splits: dict[Node, tuple[int, ...]] = {}
    clock = 0
    for root in adjacency:
        if root in disc:
            continue
        disc[root] = low[root] = clock
        clock += 1
        size[root] = 1
        component = [root]
        stack = [(root, None, iter(adjacency[root]))]
        while stack:
            node, parent, neighbours = stack[-1]
            for nxt in neighbours:
                if nxt not in disc:
                    disc[nxt] = low[nxt] = clock
                    clock += 1
                    size[nxt] = 1
                    component.append(nxt)
                    stack.append((nxt, node, iter(adjacency[nxt])))
                    break
                if nxt != parent:
                    low[node] = min(low[node], disc[nxt])
            else:
                stack.pop()
                if parent is not None:
                    low[parent] = min(low[parent], low[node])
                    size[parent] += size[node]
                    if low[node] >= disc[parent]:
                        cut_children.setdefault(parent, []).append(size[node])
        total = size[root]
        for node in component:
            parts = cut_children.get(node, [])
            if node == root:
                if len(parts) >= 2:
                    splits[node] = tuple(sorted(parts, reverse=True))
            elif parts:
                rest = total - 1 - sum(parts)
                splits[node] = tuple(sorted([*parts, *([rest] if rest else [])], reverse=True))
    return splits


def bridge_ids(members: list[tuple[str, str]], events: list[tuple]) -> list[Bridge]:
    """Articulation points of the profile graph, the ones holding most ids together first."""
    adjacency: dict[Node, set[Node]] = {(t, i): set() for i, t in members}
    for event in events:
        anon, user = ("anonymous_id", event[3]), ("user_id", event[4])
        adjacency.setdefault(anon, set()).add(user)
        adjacency.setdefault(user, set()).add(anon)
    bridges = [Bridge(node[1], node[0], len(adjacency[node]), parts)
               for node, parts in articulation_splits(adjacency).items()]
    return sorted(bridges, key=lambda b: (-b.separated, -b.linked_ids, b.other_id))


def suggest_fix(con: Db | Any, bridges: list[Bridge], thresholds: dict) -> str:
    """An exclusion-list entry for the strongest suspicious bridge; a threshold when it would be precise.

    A user_id linking a few devices is one person with several devices (normal); an anonymous_id linking
    several user_ids is a shared device or kiosk (suspicious); so is a user_id with very many devices."""
    max_users = int(thresholds.get("stitch_max_user_ids_per_anonymous_id", 5))
    max_anons = int(thresholds.get("stitch_max_anonymous_ids_per_user_id", 100))
    suspicious = [b for b in bridges if (b.other_id_type == "anonymous_id" and b.linked_ids > 1)
                  or (b.other_id_type == "user_id" and b.linked_ids > 20)]
    if not suspicious:
        return ("No fix suggested: no bridge id looks shared (no anonymous_id links several user_ids). "
                "The profile is one person's ids or is held together by several paths.")
    top = suspicious[0]
    entry = f"`{top.other_id},{top.other_id_type},shared id found by stitching_investigation`"
    text = (f"`{top.other_id}` ({top.other_id_type}) links {top.linked_ids} ids; removing it splits the profile "
            f"into parts of {', '.join(map(str, top.split_sizes[:8]))} ids. Add it to the exclusion list "
            f"(dbt/seeds/stitch_exclusion_list.csv): {entry}.")
    if top.other_id_type == "anonymous_id":
        new_limit = top.linked_ids - 1
        affected = as_db(con).scalar(
            "select count(*) from (select anonymous_id from staging.stg_rudderstack__identifies "
            "where anonymous_id is not null and user_id is not null group by anonymous_id "
            "having count(distinct user_id) > ?) as shared", (new_limit,))
        if new_limit < max_users:
            text += (f" Alternatively lower stitch_max_user_ids_per_anonymous_id from {max_users} to {new_limit}: "
                     f"that would exclude {affected} anonymous_ids in all (check that is not too many).")
    elif top.linked_ids - 1 < max_anons:
        text += f" Or lower stitch_max_anonymous_ids_per_user_id from {max_anons} to {top.linked_ids - 1}."
    if len(suspicious) > 1:
        text += f" {len(suspicious) - 1} more suspicious bridge ids are listed below."
    return text


def investigate(con: Db | Any, id_value: str | None = None, id_type: str | None = None,
                user_main_id: str | None = None, thresholds: dict | None = None) -> Report:
    """The report on one profile; con is the warehouse's Db (or a bare DuckDB/Snowflake connection)."""
    db = as_db(con)
    validate_request(id_value, id_type, user_main_id)
    for table in INPUT_TABLES:
        if not db.table_exists(table):
            raise InvestigationError(f"{table} does not exist: run the customer_360 DAG first")
    main_id, requested = resolve_profile(db, id_value, id_type, user_main_id)
    members = profile_members(db, main_id)
    events = linking_events(db, main_id)
    bridges = bridge_ids(members, events)
    report = Report(requested, main_id, members, events, bridges, suggest_fix(db, bridges, thresholds or {}))
    if len(members) == 1:
        report.notes.append("A profile of one id: nothing merged into it.")
    return report


def record_report(con: Db | Any, run_id: str, report: Report) -> None:
    db = as_db(con)
    users = sum(1 for _, t in report.members if t == "user_id")
    insert_report_row(db, {
        "investigation_run_id": run_id, "requested": report.requested, "user_main_id": report.user_main_id,
        "ids": len(report.members), "user_ids": users, "anonymous_ids": len(report.members) - users,
        "linking_events": len(report.events),
        "bridge_ids": json.dumps([{"id": b.other_id, "type": b.other_id_type, "linked_ids": b.linked_ids,
                                   "split_sizes": list(b.split_sizes[:20])} for b in report.bridges[:100]]),
        "suggested_fix": report.suggested_fix, "report_markdown": report.markdown(), "kind": "profile"})


def ensure_report_table(con: Db | Any) -> None:
    """audit.stitching_investigations, created when missing; a table made before the added columns gets them."""
    db = as_db(con)
    db.script(REPORT_DDL)
    present = db.columns("audit.stitching_investigations")
    for name, sql_type in ADDED_REPORT_COLUMNS:
        if name not in present:
            db.execute(f"alter table audit.stitching_investigations add column {name} {sql_type}")


def insert_report_row(con: Db | Any, row: dict[str, Any]) -> None:
    """One row of audit.stitching_investigations by column name (created_at set here; others null when absent)."""
    db = as_db(con)
    ensure_report_table(db)
    values = {**row, "created_at": datetime.now(UTC).replace(tzinfo=None)}
    db.execute(f"insert into audit.stitching_investigations ({', '.join(REPORT_COLUMNS)}) "
               f"values ({', '.join('?' * len(REPORT_COLUMNS))})", [values.get(c) for c in REPORT_COLUMNS])


def run_investigation(params: dict, run_id: str) -> dict:
    """The DAG's task: investigate, record, log the markdown; a bad request fails with one clear line."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.orchestration.params import dag_params
    from include.publishing.build import connect_build
    from include.warehouse.duckdb_file import WarehouseUnavailable

    thresholds = {name: param.value for name, param in dag_params().items()}
    try:
        # must_exist: a missing DuckDB file means the DAG never ran; do not leave an empty one behind.
        with connect_build(params.get("build") or "latest") as db:
            report = investigate(db, params.get("id"), params.get("id_type"), params.get("user_main_id"), thresholds)
            record_report(db, run_id, report)
    except (InvestigationError, WarehouseUnavailable) as exc:
        log.error("Cannot investigate: %s", exc)
        # from None: the reason is the message; a traceback of this module would only hide it.
        raise AirflowFailException(f"Cannot investigate: {exc}") from None
    log.info("stitching investigation report (also in audit.stitching_investigations):\n\n%s", report.markdown())
    return {"user_main_id": report.user_main_id, "ids": len(report.members),
            "bridge_ids": [b.other_id for b in report.bridges[:10]], "suggested_fix": report.suggested_fix}
