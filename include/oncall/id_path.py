"""Why are these two ids in one profile? The shortest chain of identify links between them, as code.

Given two ids (each optionally typed user_id / anonymous_id) the answer is either the shortest chain of
links joining them in their profile - each link with the identify event that made it (SDK, event id,
time, landing file and row) - or why no profile holds both: they are in different profiles (both
user_main_ids named), the links joining them were unmerged by entries of stitch_link_exclusions (the
chain they would make, each entry named), an id was kept out of the graph (its rule from
stitching.excluded_ids), or an id is unknown.

How the graph is built (dbt/models/stitching): a link is an identify event with both an anonymous_id and
a user_id, neither excluded, that no entry of the stitch_link_exclusions seed matched
(stitching.int_id_link_exclusions); a profile (stitching.user_id_stitcher) is a connected part of those links.
Orders add user_id nodes but no links. So the chain is searched (breadth first, in Python) over the
links between ids of the one profile, bounded by max_links. Deterministic: among the shortest chains the
one whose ids come first in (id, type) order from the first id on; per link its earliest event (then
event id, SDK, file, row).

Every id is bound as a parameter, never formatted into the SQL: ids may hold quotes, backslashes, `%`.
Reads and writes through include.warehouse's Db, so it runs on DuckDB and on Snowflake alike.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from include.oncall.investigation import (
    ID_TYPES,
    INPUT_TABLES,
    InvestigationError,
    as_db,
    insert_report_row,
)
from include.warehouse.db import Db

log = logging.getLogger(__name__)

DEFAULT_MAX_LINKS = 20_000  # distinct (anonymous_id, user_id) links of one profile searched in memory
MAX_MAX_LINKS = 1_000_000

Node = tuple[str, str]  # (other_id_type, other_id), as include.oncall.investigation.Node

# verdicts
LINKED, SAME_ID, NO_CHAIN = "linked", "same_id", "no_chain"
DIFFERENT_PROFILES, EXCLUDED, UNKNOWN = "different_profiles", "excluded", "unknown"
UNMERGED = "unmerged"  # different profiles, which links unmerged by stitch_link_exclusions would join

# Each entry of the stitch_link_exclusions seed with the identify events it matched (is_match), written by
# dbt; a warehouse built before the seed existed has no such table and no link exclusions.
LINK_EXCLUSIONS = "stitching.int_id_link_exclusions"
LINK_EXCLUSIONS_SEED = "dbt/seeds/stitch_link_exclusions.csv"
# The identify events an entry matched: they link nothing. Joined as `x` on staging's `i`.
_MATCHED_EVENTS = (f"(select distinct source_sdk, identify_event_id from {LINK_EXCLUSIONS} where is_match) as x "
                   "on x.source_sdk = i.source_sdk and x.identify_event_id = i.event_id")


def node_order(node: Node) -> tuple[str, str]:
    """Ties between equally short chains are broken by id, then type."""
    return node[1], node[0]


def show(node: Node) -> str:
    return f"{node[0]} {node[1]!r}"


@dataclass(frozen=True)
class IdStatus:
    """Where one requested id is: in a profile, excluded from the graph, or nowhere."""

    requested: str
    requested_type: str | None
    state: str  # "profile", EXCLUDED or UNKNOWN
    node: Node | None = None  # (type, id) when in a profile
    user_main_id: str | None = None
    exclusions: tuple[tuple[str, str, str], ...] = ()  # (other_id_type, reason, detail)

    @property
    def described(self) -> str:
        return f"{self.requested_type or 'id'} {self.requested!r}" if self.node is None else show(self.node)

    def explanation(self) -> str:
        if self.state == "profile":
            return f"{self.described} is in profile {self.user_main_id}"
        if self.state == EXCLUDED:
            rules = "; ".join(f"{t}: rule {reason} ({detail})" for t, reason, detail in self.exclusions)
            return (f"{self.described} was kept out of the identity graph ({rules}), so it is in no profile; "
                    "see stitching.excluded_ids")
        return (f"{self.described} is not in stitching.user_id_stitcher nor stitching.excluded_ids: check the "
                "spelling and the type (ids are trimmed, case-sensitive)")


@dataclass(frozen=True)
class Link:
    """One step of the chain and the identify event that made the link (its earliest)."""

    from_node: Node
    to_node: Node
    source_sdk: str
    event_id: str
    event_at: datetime | None
    landed_file_name: str
    landed_row_number: int | None
    # the entries of stitch_link_exclusions that unmerged this link (in words), when stitching does not use it
    unmerged_by: tuple[str, ...] = ()

    def text(self) -> str:
        at = f"{self.event_at:%Y-%m-%d %H:%M:%S}" if self.event_at is not None else "unknown time"
        cut = "".join(f"\n    NOT USED: unmerged by the stitch_link_exclusions entry {entry}"
                      for entry in self.unmerged_by)
        return (f"{show(self.from_node)} -> {show(self.to_node)}\n"
                f"    identify event {self.event_id!r} of the {self.source_sdk} SDK at {at}, "
                f"landed in {self.landed_file_name} row {self.landed_row_number}{cut}")


@dataclass
class PathAnswer:
    first: IdStatus
    second: IdStatus
    verdict: str
    links: list[Link] = field(default_factory=list)
    profile_ids: int | None = None  # ids of the shared profile
    profile_links: int | None = None  # distinct links of the shared profile

    @property
    def in_one_profile(self) -> bool:
        return self.verdict in (LINKED, SAME_ID, NO_CHAIN)

    @property
    def user_main_id(self) -> str | None:
        return self.first.user_main_id if self.in_one_profile else None

    @property
    def requested(self) -> str:
        return f"path: {self.first.described} and {self.second.described}"

    def text(self) -> str:
        a, b = self.first.described, self.second.described
        out = [f"Why are {a} and {b} in one profile?", ""]
        if self.verdict == LINKED:
            out.append(f"They are: both in profile {self.user_main_id} ({self.profile_ids} ids, "
                       f"{self.profile_links} links). The shortest chain has {len(self.links)} "
                       f"link{'s' if len(self.links) != 1 else ''}, each made by an identify event with both ids:")
            out.append("")
            out += [f"{n:>3}. {link.text()}" for n, link in enumerate(self.links, 1)]
        elif self.verdict == SAME_ID:
            out.append(f"They are the same id, in profile {self.user_main_id}: a chain of 0 links.")
        elif self.verdict == UNMERGED:
            out.append("They are not in one profile:")
            out += [f"  - {self.first.explanation()}", f"  - {self.second.explanation()}", ""]
            cut = sum(1 for link in self.links if link.unmerged_by)
            out.append(f"A link exclusion split them: the shortest chain of identify links between them has "
                       f"{len(self.links)} link{'s' if len(self.links) != 1 else ''}, and stitching does not use "
                       f"the {cut} marked NOT USED, unmerged by entries of {LINK_EXCLUSIONS_SEED}:")
            out.append("")
            out += [f"{n:>3}. {link.text()}" for n, link in enumerate(self.links, 1)]
        elif self.verdict == NO_CHAIN:
            out.append(f"stitching.user_id_stitcher puts both in profile {self.user_main_id}, but no chain of "
                       "identify links in staging.stg_rudderstack__identifies joins them: staging changed after "
                       "the stitching tables were built. Run the customer_360 DAG and ask again.")
        else:
            out.append("They are not in one profile:")
            out += [f"  - {self.first.explanation()}", f"  - {self.second.explanation()}"]
            if self.verdict == DIFFERENT_PROFILES:
                out += ["", f"No identify event links profile {self.first.user_main_id} to profile "
                        f"{self.second.user_main_id} (or the link was through an excluded id)."]
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        """The answer as JSON-able data: the task's return value and audit.stitching_investigations.answer_json."""
        def status(s: IdStatus) -> dict[str, Any]:
            return {"requested": s.requested, "requested_type": s.requested_type, "state": s.state,
                    "id_type": s.node[0] if s.node else None, "user_main_id": s.user_main_id,
                    "exclusions": [{"other_id_type": t, "reason": r, "detail": d} for t, r, d in s.exclusions]}

        links = []
        for link in self.links:
            item = asdict(link)
            item["from_node"], item["to_node"] = list(link.from_node), list(link.to_node)
            item["unmerged_by"] = list(link.unmerged_by)
            item["event_at"] = link.event_at.isoformat(sep=" ") if link.event_at is not None else None
            links.append(item)
        return {"verdict": self.verdict, "user_main_id": self.user_main_id, "first": status(self.first),
                "second": status(self.second), "links": links, "profile_ids": self.profile_ids,
                "profile_links": self.profile_links}


def _clean(value: str | None) -> str:
    return (value or "").strip()


def is_path_request(params: dict) -> bool:
    """A DAG run asks for a chain when other_id or other_id_type is set."""
    return bool(_clean(params.get("other_id")) or params.get("other_id_type"))


def validate_path_request(id_value: str | None, id_type: str | None, other_id: str | None,
                          other_id_type: str | None, user_main_id: str | None = None,
                          max_links: int = DEFAULT_MAX_LINKS) -> None:
    """A bad combination of the DAG's params, refused before the warehouse is opened."""
    if other_id_type and not _clean(other_id):
        raise InvestigationError("other_id_type is set but other_id is empty: give other_id (the second id of "
                                 "the chain) or clear other_id_type")
    if _clean(user_main_id):
        raise InvestigationError("other_id asks for the chain between 'id' and 'other_id': give it with 'id' "
                                 "(and optional 'id_type'), not with 'user_main_id'")
    if not _clean(id_value):
        raise InvestigationError("other_id needs 'id': the chain is between 'id' and 'other_id'")
    for name, value in (("id_type", id_type), ("other_id_type", other_id_type)):
        if value and value not in ID_TYPES:
            raise InvestigationError(f"{name} must be one of {', '.join(ID_TYPES)}, not {value!r}")
    if isinstance(max_links, bool) or not isinstance(max_links, int) or not 1 <= max_links <= MAX_MAX_LINKS:
        raise InvestigationError(f"max_links must be an integer from 1 to {MAX_MAX_LINKS}, not {max_links!r}")


def locate(con: Db | Any, id_value: str, id_type: str | None, type_param: str = "id_type") -> IdStatus:
    """The profile of one id, or why it has none; InvestigationError when its type must be given."""
    db = as_db(con)
    id_value = id_value.strip()
    where, params = ("where other_id = ? and other_id_type = ?", (id_value, id_type)) if id_type else (
        "where other_id = ?", (id_value,))
    rows = db.rows(f"select user_main_id, other_id_type from stitching.user_id_stitcher {where} "
                   "order by other_id_type", params)
    if len(rows) == 1:
        return IdStatus(id_value, id_type, "profile", (rows[0][1], id_value), rows[0][0])
    if len(rows) > 1:
        raise InvestigationError(f"{id_type or 'id'} {id_value!r} exists as both user_id and anonymous_id: "
                                 f"set {type_param}")
    excluded = db.rows(f"select other_id_type, reason, detail from stitching.excluded_ids {where} "
                       "order by other_id_type", params)
    if excluded:
        return IdStatus(id_value, id_type, EXCLUDED, exclusions=tuple((t, r, d) for t, r, d in excluded))
    return IdStatus(id_value, id_type, UNKNOWN)


def profile_links(con: Db | Any, user_main_id: str, max_links: int) -> list[tuple[str, str]]:
    """The distinct (anonymous_id, user_id) links of one profile, as stitching uses them (an identify event
    an entry of stitch_link_exclusions matched links nothing); InvestigationError above max_links."""
    db = as_db(con)
    unmerged = (f"left join {_MATCHED_EVENTS} where x.identify_event_id is null"
                if db.table_exists(LINK_EXCLUSIONS) else "")
    found = db.rows(
        f"""
        with members as (
            select other_id, other_id_type from stitching.user_id_stitcher where user_main_id = ?
        )
        select distinct i.anonymous_id, i.user_id
        from staging.stg_rudderstack__identifies as i
        inner join members as a on a.other_id = i.anonymous_id and a.other_id_type = 'anonymous_id'
        inner join members as u on u.other_id = i.user_id and u.other_id_type = 'user_id'
        {unmerged}
        limit ?
        """,
        (user_main_id, int(max_links) + 1),
    )
    if len(found) > max_links:
        raise InvestigationError(
            f"profile {user_main_id} has more than {max_links} links, more than this search takes (max_links): "
            f"raise max_links (up to {MAX_MAX_LINKS}), or trigger with user_main_id {user_main_id} alone for "
            "its bridge ids")
    return sorted(found)


def shortest_path(links: Iterable[tuple[str, str]], start: Node, goal: Node) -> list[Node] | None:
    """The nodes of the shortest chain from start to goal over (anonymous_id, user_id) links, or None.

    Breadth first with every node's neighbours in node_order: the first chain to reach goal is, of the
    shortest ones, the one whose nodes come first in that order from start on."""
    adjacency: dict[Node, set[Node]] = {}
    for anon, user in links:
        a, u = ("anonymous_id", anon), ("user_id", user)
        adjacency.setdefault(a, set()).add(u)
        adjacency.setdefault(u, set()).add(a)
    if start == goal:
        return [start]
    if start not in adjacency or goal not in adjacency:
        return None
    parent: dict[Node, Node | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(adjacency[node], key=node_order):
            if nxt in parent:
                continue
            parent[nxt] = node
            if nxt == goal:
                path = [goal]
                while (step := parent[path[-1]]) is not None:
                    path.append(step)
                return path[::-1]
            queue.append(nxt)
    return None


def link_event(con: Db | Any, from_node: Node, to_node: Node) -> Link:
    """The earliest identify event (then event id, SDK, file, row) that links the two nodes: of the events no
    entry of stitch_link_exclusions matched, if any, else of all (the link is unmerged, unmerged_by says by
    which entries)."""
    db = as_db(con)
    anon, user = (from_node, to_node) if from_node[0] == "anonymous_id" else (to_node, from_node)
    exclusions = db.table_exists(LINK_EXCLUSIONS)
    matched = "case when x.identify_event_id is null then 0 else 1 end"
    row = db.one(
        f"select i.source_sdk, i.event_id, i.event_at, i.landed_file_name, i.landed_row_number, "
        f"{matched if exclusions else '0'} as matched "
        f"from staging.stg_rudderstack__identifies as i {f'left join {_MATCHED_EVENTS}' if exclusions else ''} "
        "where i.anonymous_id = ? and i.user_id = ? "
        f"order by {f'{matched}, ' if exclusions else ''}i.event_at nulls last, i.event_id, i.source_sdk, "
        "i.landed_file_name, i.landed_row_number limit 1",
        (anon[1], user[1]))
    if row is None:  # staging changed between the two reads
        raise InvestigationError(f"the link {show(from_node)} - {show(to_node)} has no identify event any more: "
                                 "staging.stg_rudderstack__identifies changed during the search; ask again")
    sdk, event_id, event_at, file_name, row_number, unmerged = row
    return Link(from_node, to_node, sdk, event_id, event_at, file_name,
                None if row_number is None else int(row_number),
                unmerging_entries(db, anon[1], user[1]) if unmerged else ())


def unmerging_entries(con: Db | Any, anonymous_id: str, user_id: str) -> tuple[str, ...]:
    """The entries of stitch_link_exclusions that matched events of the link, in words with who decided."""
    rows = as_db(con).rows(
        f"select distinct entry, reason, decided_by, decided_at from {LINK_EXCLUSIONS} "
        "where is_match and anonymous_id = ? and user_id = ? order by entry", (anonymous_id, user_id))
    return tuple(f"{entry} (reason: {reason}; decided by {by} on {at})" for entry, reason, by, at in rows)


def unmerged_chain(con: Db | Any, first: IdStatus, second: IdStatus, max_links: int) -> list[Node] | None:
    """For two ids in different profiles: the shortest chain over both profiles' links and the links
    stitch_link_exclusions unmerged between them, or None when no such chain joins them (no link exclusion
    between the two profiles, or the way leads through a third profile or an excluded id)."""
    db = as_db(con)
    if not db.table_exists(LINK_EXCLUSIONS):
        return None
    crossing = db.rows(
        f"""
        with members as (
            select other_id, other_id_type, user_main_id from stitching.user_id_stitcher
            where user_main_id in (?, ?)
        )
        select distinct i.anonymous_id, i.user_id
        from staging.stg_rudderstack__identifies as i
        inner join members as a on a.other_id = i.anonymous_id and a.other_id_type = 'anonymous_id'
        inner join members as u on u.other_id = i.user_id and u.other_id_type = 'user_id'
        inner join {_MATCHED_EVENTS}
        where a.user_main_id <> u.user_main_id
        """,
        (first.user_main_id, second.user_main_id),
    )
    if not crossing:
        return None
    assert first.node is not None and second.node is not None and first.user_main_id and second.user_main_id
    links = [*profile_links(db, first.user_main_id, max_links), *profile_links(db, second.user_main_id, max_links),
             *crossing]
    return shortest_path(links, first.node, second.node)


def find_path(con: Db | Any, id_value: str, other_id: str, id_type: str | None = None,
              other_id_type: str | None = None, max_links: int = DEFAULT_MAX_LINKS) -> PathAnswer:
    """Why id_value and other_id are (or are not) in one profile; con is the warehouse's Db (or a bare
    DuckDB/Snowflake connection). InvestigationError for a request that cannot be answered."""
    db = as_db(con)
    validate_path_request(id_value, id_type, other_id, other_id_type, max_links=max_links)
    for table in INPUT_TABLES:
        if not db.table_exists(table):
            raise InvestigationError(f"{table} does not exist: run the customer_360 DAG first")
    first = locate(db, id_value, id_type, "id_type")
    second = locate(db, other_id, other_id_type, "other_id_type")
    states = {first.state, second.state}
    if EXCLUDED in states:
        return PathAnswer(first, second, EXCLUDED)
    if UNKNOWN in states:
        return PathAnswer(first, second, UNKNOWN)
    if first.user_main_id != second.user_main_id:
        cut = unmerged_chain(db, first, second, max_links)
        if cut is None:
            return PathAnswer(first, second, DIFFERENT_PROFILES)
        return PathAnswer(first, second, UNMERGED, [link_event(db, a, b) for a, b in pairwise(cut)])
    main_id = first.user_main_id
    ids = db.scalar("select count(*) from stitching.user_id_stitcher where user_main_id = ?", (main_id,))
    links = profile_links(db, main_id, max_links)
    assert first.node is not None and second.node is not None
    nodes = shortest_path(links, first.node, second.node)
    answer = PathAnswer(first, second, SAME_ID if first.node == second.node else LINKED,
                        profile_ids=int(ids), profile_links=len(links))
    if nodes is None:
        answer.verdict = NO_CHAIN
        return answer
    answer.links = [link_event(db, a, b) for a, b in pairwise(nodes)]
    return answer


def record_path(con: Db | Any, run_id: str, answer: PathAnswer) -> None:
    """The answer as one row of audit.stitching_investigations (kind 'path'; the chain in answer_json)."""
    insert_report_row(con, {
        "investigation_run_id": run_id, "requested": answer.requested, "user_main_id": answer.user_main_id,
        "ids": answer.profile_ids, "linking_events": len(answer.links) if answer.in_one_profile else None,
        "report_markdown": answer.text(), "kind": "path", "verdict": answer.verdict,
        "answer_json": json.dumps(answer.as_json())})


def run_path(params: dict, run_id: str) -> dict:
    """The DAG's task for a chain request: answer, record, log the text; a bad request fails with one line."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.publishing.build import connect_build
    from include.warehouse.duckdb_file import WarehouseUnavailable

    request = (params.get("id"), params.get("other_id"), params.get("id_type"), params.get("other_id_type"))
    max_links = params.get("max_links", DEFAULT_MAX_LINKS)
    try:
        validate_path_request(request[0], request[2], request[1], request[3], params.get("user_main_id"),
                              max_links)
        with connect_build(params.get("build") or "latest") as db:
            answer = find_path(db, *request, max_links=max_links)
            record_path(db, run_id, answer)
    except (InvestigationError, WarehouseUnavailable) as exc:
        log.error("Cannot investigate: %s", exc)
        raise AirflowFailException(f"Cannot investigate: {exc}") from None
    log.info("stitching investigation (also in audit.stitching_investigations):\n\n%s", answer.text())
    return answer.as_json()
