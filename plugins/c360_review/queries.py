"""What the review page reads from the deployment's warehouse (DuckDB or Snowflake, include.warehouse):
read-only, one short-lived connection per request (DuckDB admits no writer while any other process
holds the file open)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from include.oncall.id_path import DEFAULT_MAX_LINKS, PathAnswer, find_path, profile_links
from include.oncall.investigation import INPUT_TABLES, USER_MAIN_ID, InvestigationError, profile_members
from include.publishing.build import Build, latest_build, published_build, reading
from include.publishing.lineage import HISTORY
from include.warehouse import connect_warehouse
from include.warehouse.db import Db

GATE_DAG = "customer_360"

# How many ids (members and excluded neighbours) a profile may have to be drawn: the layout is quadratic in
# them and a bigger picture is a blot. Set per deployment with C360_REVIEW_GRAPH_MAX_IDS.
DEFAULT_MAX_GRAPH_IDS = 2_000
MAX_GRAPH_IDS_ENV = "C360_REVIEW_GRAPH_MAX_IDS"
TABLE_ROWS = 200  # ids, and links to excluded ids, listed for a profile too large to draw
BRIDGES = "stitching.stitch_bridge_ids"


@dataclass
class RunRow:
    run_id: str
    checked_at: object
    verdict: str
    passed: int
    warned: int
    failed: int
    largest_cluster: float | None


@dataclass
class ProfileId:
    other_id: str
    other_id_type: str
    bridge_links: int | None = None  # linked_ids of stitching.stitch_bridge_ids when a bridge id


@dataclass
class ExcludedNeighbour:
    """An id kept out of the graph (stitching.excluded_ids) that an identify event links to a member."""

    other_id: str
    other_id_type: str
    reason: str
    detail: str
    members: list[tuple[str, str]] = field(default_factory=list)  # (other_id_type, other_id) it is linked to


@dataclass
class ProfileView:
    """One profile for the graph view. message set: nothing to show (unknown, malformed, not built);
    too_large set: no picture, ids holds the first TABLE_ROWS ids (bridge ids first) for the table."""

    requested: str
    user_main_id: str | None = None
    message: str | None = None
    too_large: str | None = None
    id_count: int = 0
    user_id_count: int = 0
    ids: list[ProfileId] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (anonymous_id, user_id)
    excluded: list[ExcludedNeighbour] = field(default_factory=list)
    bridges_read: bool = True  # False: stitching.stitch_bridge_ids is not built, no id is marked


@dataclass(frozen=True)
class PathRequest:
    id: str
    other_id: str
    id_type: str | None = None
    other_id_type: str | None = None


@dataclass
class PathView:
    """The answer to "why are these two ids in one profile?", or why it cannot be given."""

    request: PathRequest
    answer: PathAnswer | None = None
    message: str = ""


@dataclass
class PageData:
    runs: list[RunRow] = field(default_factory=list)
    selected_run: str | None = None
    checks: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    cluster_sizes: list[tuple[int, int, int]] = field(default_factory=list)
    largest_trend: list[tuple[str, float]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    profile: ProfileView | None = None  # when the page was asked for a user_main_id
    published: Build | None = None  # the build readers see
    latest: Build | None = None  # the build the latest gate judged (the profile graph reads it)
    lineage: list[dict] = field(default_factory=list)  # per published run: profiles merged, split, renamed
    history: list[dict] = field(default_factory=list)  # the requested profile's renames across runs
    path: PathView | None = None  # when the page was asked why two ids are (not) in one profile


LARGEST = "stitching:largest_cluster_ids"
# A merged profile counts once however many profiles it took in; a split one once however many it became.
LINEAGE_SQL = f"""
    select run_id, max(changed_at) as changed_at,
           count(distinct case when change = 'merged' then user_main_id end) as merged,
           count(distinct case when change = 'split' then previous_user_main_id end) as split,
           count(distinct case when change = 'renamed' then previous_user_main_id end) as renamed,
           sum(ids_moved) as ids_moved
    from {HISTORY} group by run_id order by max(changed_at) desc, run_id desc limit ?
"""


def load_path(db: Db, request: PathRequest) -> PathView:
    """The shortest chain of links between two ids in the latest build, as the investigation DAG gives it."""
    if not (request.id.strip() and request.other_id.strip()):
        return PathView(request, message="Give both ids: the chain is between id and other id.")
    try:
        answer = find_path(reading(db, "latest"), request.id.strip(), request.other_id.strip(),
                           request.id_type or None, request.other_id_type or None)
    except InvestigationError as exc:
        return PathView(request, message=str(exc))
    return PathView(request, answer)


def load(run_id: str | None = None, run_limit: int = 25, alert_limit: int = 50, user_main_id: str | None = None,
         max_graph_ids: int = DEFAULT_MAX_GRAPH_IDS, path: PathRequest | None = None) -> PageData:
    data = PageData()
    with connect_warehouse(read_only=True) as db:
        tables = db.tables()
        data.published, data.latest = published_build(db), latest_build(db)
        if path is not None:
            data.path = load_path(db, path)
        if HISTORY in tables:
            data.lineage = db.dicts(LINEAGE_SQL, (run_limit,))
            if user_main_id and USER_MAIN_ID.match(user_main_id.strip()):
                data.history = db.dicts(
                    f"select run_id, previous_user_main_id, user_main_id, change, ids_moved, changed_at from {HISTORY} "
                    "where user_main_id = ? or previous_user_main_id = ? order by changed_at, previous_user_main_id",
                    (user_main_id.strip(), user_main_id.strip()))
        if user_main_id and user_main_id.strip():  # an empty form submits an empty value
            # The latest build: the one whose gate named the profile, even when it kept it from readers.
            data.profile = load_profile(reading(db, "latest"), user_main_id, max_graph_ids)
        data.missing = [t for t in ("audit.dq_gate_results", "audit.alerts", "audit.dq_cluster_sizes")
                        if t not in tables]
        if "audit.dq_gate_results" in tables:
            # SQL both DuckDB and Snowflake accept: no `filter (where ...)`, no bool_or; count, not sum, so the
            # counts are integers on both.
            data.runs = [RunRow(*r) for r in db.rows(
                """
                select run_id, max(checked_at) as checked_at,
                       case when max(case when status = 'fail' then 1 else 0 end) = 1 then 'fail'
                            when max(case when status = 'warn' then 1 else 0 end) = 1 then 'warn'
                            else 'pass' end as verdict,
                       count(case when status = 'pass' then 1 end) as passed,
                       count(case when status = 'warn' then 1 end) as warned,
                       count(case when status = 'fail' then 1 end) as failed,
                       max(case when check_name = ? then observed_value end) as largest_cluster
                from audit.dq_gate_results group by run_id order by max(checked_at) desc, run_id desc limit ?
                """, (LARGEST, run_limit))]
            data.selected_run = run_id or (data.runs[0].run_id if data.runs else None)
            data.checks = db.dicts(
                """
                select status, check_name, layer, observed_value, threshold, baseline_value, baseline_run_id, detail
                from audit.dq_gate_results where run_id = ?
                order by case status when 'fail' then 0 when 'warn' then 1 else 2 end, check_name
                """, (data.selected_run,))
            data.largest_trend = db.rows(
                """
                select run_id, observed_value from audit.dq_gate_results
                where check_name = ? and observed_value is not null
                order by checked_at desc, run_id desc limit ?
                """, (LARGEST, run_limit))[::-1]
        if "audit.dq_cluster_sizes" in tables and data.selected_run:
            data.cluster_sizes = db.rows(
                "select min_ids, max_ids, profiles from audit.dq_cluster_sizes where run_id = ? order by min_ids",
                (data.selected_run,))
        if "audit.alerts" in tables:
            data.alerts = db.dicts(
                """
                select created_at, kind, run_id, layer, task_id, try_number, max_tries, exception, log_url,
                       failing_checks, delivered_via
                from audit.alerts order by created_at desc limit ?
                """, (alert_limit,))
            for alert in data.alerts:
                alert["failing_checks"] = json.loads(alert["failing_checks"] or "[]")
    return data


# (member type, member id, excluded type, excluded id, reason, detail): the identify links from a member to
# an id that stitching.excluded_ids keeps out of the graph. Two joins in a union rather than one join on
# `a or b`, which DuckDB runs as a nested loop over every identify event.
EXCLUDED_LINKS_SQL = """
    with members as (
        select other_id, other_id_type from stitching.user_id_stitcher where user_main_id = ?
    ),
    neighbours as (
        select i.user_id as member_id, 'user_id' as member_type, i.anonymous_id as other_id,
               'anonymous_id' as other_id_type
        from staging.stg_rudderstack__identifies as i
        inner join members as m on m.other_id = i.user_id and m.other_id_type = 'user_id'
        union
        select i.anonymous_id as member_id, 'anonymous_id' as member_type, i.user_id as other_id,
               'user_id' as other_id_type
        from staging.stg_rudderstack__identifies as i
        inner join members as m on m.other_id = i.anonymous_id and m.other_id_type = 'anonymous_id'
    )
    select n.member_type, n.member_id, e.other_id_type, e.other_id, e.reason, e.detail
    from neighbours as n
    inner join stitching.excluded_ids as e on e.other_id = n.other_id and e.other_id_type = n.other_id_type
    order by e.other_id_type, e.other_id, n.member_type, n.member_id
    limit ?
"""


def graph_max_ids(environ: dict[str, str]) -> int:
    """The deployment's limit; a value that is not a positive integer falls back to the default rather
    than breaking the page."""
    try:
        value = int(environ.get(MAX_GRAPH_IDS_ENV, DEFAULT_MAX_GRAPH_IDS))
    except ValueError:
        return DEFAULT_MAX_GRAPH_IDS
    return value if value > 0 else DEFAULT_MAX_GRAPH_IDS


def load_profile(db: Db, requested: str, max_ids: int = DEFAULT_MAX_GRAPH_IDS,
                 tables: set[str] | None = None) -> ProfileView:
    """The profile's ids, links, bridge ids and excluded neighbours for the picture; for a profile of more
    than max_ids ids its first ids for a table instead; or a message why there is nothing to show."""
    view = ProfileView(requested)
    user_main_id = requested.strip()
    tables = db.tables() if tables is None else tables
    missing = [t for t in INPUT_TABLES if t not in tables]
    if missing:
        view.message = f"Not yet in the warehouse: {', '.join(missing)}. Run the customer_360 DAG first."
        return view
    if not USER_MAIN_ID.match(user_main_id):
        view.message = (f"{user_main_id!r} is not a user_main_id: that is 32 lower-case hex characters, as in "
                        "stitching.user_id_stitcher.")
        return view
    id_count, user_id_count = db.one(
        "select count(*), count(case when other_id_type = 'user_id' then 1 end) "
        "from stitching.user_id_stitcher where user_main_id = ?", (user_main_id,))
    if not id_count:
        view.message = (f"No profile has user_main_id {user_main_id} in stitching.user_id_stitcher. A later run "
                        "may have stitched its ids differently: find the profile of one of its ids with the "
                        "stitching_investigation DAG.")
        return view
    view.user_main_id, view.id_count, view.user_id_count = user_main_id, int(id_count), int(user_id_count)
    view.bridges_read = BRIDGES in tables
    if view.id_count > max_ids:
        return _as_table(db, view, f"it has {view.id_count:,} ids, more than the {max_ids:,} this page draws "
                                   f"({MAX_GRAPH_IDS_ENV})")
    try:
        view.links = profile_links(db, user_main_id, DEFAULT_MAX_LINKS)
    except InvestigationError:
        return _as_table(db, view, f"it has more than {DEFAULT_MAX_LINKS:,} links")
    excluded_links = db.rows(EXCLUDED_LINKS_SQL, (user_main_id, DEFAULT_MAX_LINKS + 1))
    view.excluded = _neighbours(excluded_links)
    if len(excluded_links) > DEFAULT_MAX_LINKS or view.id_count + len(view.excluded) > max_ids:
        return _as_table(db, view, f"its {view.id_count:,} ids and {len(view.excluded):,} excluded neighbours are "
                                   f"more than the {max_ids:,} ids this page draws ({MAX_GRAPH_IDS_ENV})")
    bridges = _bridges(db, user_main_id) if view.bridges_read else {}
    # sorted here, not in SQL: the two targets may collate odd characters differently, and the layout
    # depends on the order
    view.ids = [ProfileId(other_id, other_type, bridges.get((other_type, other_id)))
                for other_id, other_type in sorted(profile_members(db, user_main_id), key=lambda m: (m[1], m[0]))]
    return view


def _bridges(db: Db, user_main_id: str) -> dict[tuple[str, str], int]:
    """(type, id) -> linked ids of the profile's bridge ids. stitch_bridge_ids names the profile only of
    ids no rule excluded, so these are members."""
    return {(t, i): int(n) for i, t, n in db.rows(
        f"select other_id, other_id_type, linked_ids from {BRIDGES} where user_main_id = ?", (user_main_id,))}


def _neighbours(rows: list[tuple]) -> list[ExcludedNeighbour]:
    """One ExcludedNeighbour per excluded id, with the members it is linked to."""
    found: dict[tuple[str, str], ExcludedNeighbour] = {}
    for member_type, member_id, other_type, other_id, reason, detail in rows:
        neighbour = found.setdefault((other_type, other_id),
                                     ExcludedNeighbour(other_id, other_type, reason, detail or ""))
        neighbour.members.append((member_type, member_id))
    for neighbour in found.values():
        neighbour.members.sort()
    return [found[key] for key in sorted(found)]


def _as_table(db: Db, view: ProfileView, why: str) -> ProfileView:
    """The first TABLE_ROWS ids, bridge ids first (most linked first), and the first links to excluded ids."""
    view.too_large = why
    user_main_id = view.user_main_id
    if view.bridges_read:
        rows = db.rows(
            f"""
            select s.other_id, s.other_id_type, b.linked_ids
            from stitching.user_id_stitcher as s
            left join {BRIDGES} as b
                on b.other_id = s.other_id and b.other_id_type = s.other_id_type and b.user_main_id = s.user_main_id
            where s.user_main_id = ?
            order by case when b.linked_ids is null then 1 else 0 end, b.linked_ids desc, s.other_id_type desc,
                     s.other_id
            limit ?
            """, (user_main_id, TABLE_ROWS))
    else:
        rows = db.rows("select other_id, other_id_type, null from stitching.user_id_stitcher where user_main_id = ? "
                       "order by other_id_type desc, other_id limit ?", (user_main_id, TABLE_ROWS))
    view.ids = [ProfileId(i, t, None if n is None else int(n)) for i, t, n in rows]
    view.links = []
    view.excluded = _neighbours(db.rows(EXCLUDED_LINKS_SQL, (user_main_id, TABLE_ROWS)))
    return view
