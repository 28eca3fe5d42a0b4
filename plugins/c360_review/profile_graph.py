"""The review page's profile view: one profile's identity graph as inline SVG, drawn on the server.

Nodes are the profile's ids (user_id: circle, anonymous_id: square), edges the (anonymous_id, user_id)
pairs of its identify events. Bridge ids (stitching.stitch_bridge_ids) get a red outline; ids an identify
event links to a member but a rule kept out of the graph (stitching.excluded_ids) are drawn grey and
dashed, with their rule in the tooltip. Every node carries data-* attributes for tests and scripts.

Every id is escaped wherever it is written: ids come from client SDKs and may hold quotes, `<`, `&`."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from c360_review.layout import spring_layout
from c360_review.queries import TABLE_ROWS, ExcludedNeighbour, ProfileId, ProfileView

WIDTH, HEIGHT, MARGIN = 960, 640, 24
LABELLED = 40  # up to this many nodes the ids are written beside them; above, on hover only
LABEL_CHARS = 28

STYLE = """
.graph{border:1px solid #d9e2ec;background:#fff}.edge{stroke:#9aa5b1;stroke-width:1}
.edge.to-excluded{stroke-dasharray:4 3}.node{stroke:#1f2933;stroke-width:.6}
.node.user-id{fill:#4c8bf5}.node.anonymous-id{fill:#f5a623}.node.bridge{stroke:#d64545;stroke-width:2.5}
.node.excluded{fill:#e4e7eb;stroke:#52606d;stroke-dasharray:2 1.5}.node-label{font-size:10px;fill:#1f2933}
.legend svg{vertical-align:middle}#profile-form input{font-family:monospace}
"""


def profile_url(base: str, user_main_id: str) -> str:
    """The page drawing that profile, scrolled to it (escaped for an href)."""
    return escape(f"{base}?{urlencode({'user_main_id': user_main_id})}#profile")


def profile_section(view: ProfileView | None, base: str) -> str:
    """The section's HTML: the form, then the picture, the table or why neither."""
    requested = view.requested if view else ""
    form = (f'<form id="profile-form" method="get" action="{escape(base)}#profile"><label>user_main_id '
            f'<input name="user_main_id" size="36" value="{escape(requested)}"></label> '
            '<button type="submit">Draw</button></form>')
    if view is None:
        return form + ('<p class="muted">Give a profile\'s user_main_id to draw its identity graph (the largest '
                       "profile's is linked from its check above).</p>")
    if view.message:
        return form + f'<p id="profile-message">{escape(view.message)}</p>'
    body = _summary(view)
    if view.too_large:
        body += _too_large(view) + _ids_table(view.ids)
    else:
        body += graph_svg(view) + LEGEND
    return form + body + _excluded_table(view.excluded)


def _summary(view: ProfileView) -> str:
    umid = escape(view.user_main_id or "")
    bridges = sum(1 for i in view.ids if i.bridge_links is not None)
    counts = (f"{view.id_count:,} ids ({view.user_id_count:,} user_ids, "
              f"{view.id_count - view.user_id_count:,} anonymous_ids)")
    if not view.too_large:
        counts += (f", {_count(len(view.links), 'link')}, {_count(bridges, 'bridge id')}, "
                   f"{_count(len(view.excluded), 'excluded neighbour')}")
    unmarked = "" if view.bridges_read else " stitching.stitch_bridge_ids is not built: no bridge id is marked."
    return (f'<p id="profile-summary" data-user-main-id="{umid}">Profile <code>{umid}</code>: {counts}. '
            f'Why two ids are in it: trigger the <a href="/dags/stitching_investigation">stitching_investigation'
            f"</a> DAG with both.{unmarked}</p>")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _too_large(view: ProfileView) -> str:
    shown = f"the first {len(view.ids):,}" if len(view.ids) < view.id_count else "all"
    return (f'<p id="profile-too-large">No picture of this profile: {escape(view.too_large or "")}. Listed '
            f"instead: {shown} of its ids, bridge ids first (most linked first). Its bridge ids, as articulation "
            "points, come from the stitching_investigation DAG run with this user_main_id.</p>")


def _ids_table(ids: list[ProfileId]) -> str:
    rows = "".join(
        f'<tr data-id="{escape(i.other_id)}" data-id-type="{escape(i.other_id_type)}"{_bridge_data(i)}>'
        f"<td><code>{escape(i.other_id)}</code></td><td>{escape(i.other_id_type)}</td>"
        f'<td class="num">{"" if i.bridge_links is None else i.bridge_links}</td></tr>' for i in ids)
    return ('<table id="profile-ids"><tr><th>id</th><th>type</th><th>bridge id: linked ids</th></tr>'
            + rows + "</table>")


def _bridge_data(member: ProfileId) -> str:
    if member.bridge_links is None:
        return ""
    return f' data-bridge="true" data-linked-ids="{member.bridge_links}"'


def _excluded_table(excluded: list[ExcludedNeighbour]) -> str:
    if not excluded:
        return ""
    rows = "".join(
        f'<tr data-id="{escape(e.other_id)}" data-id-type="{escape(e.other_id_type)}" '
        f'data-reason="{escape(e.reason)}"><td><code>{escape(e.other_id)}</code></td><td>{escape(e.other_id_type)}'
        f"</td><td>{escape(e.reason)}</td><td>{escape(e.detail)}</td><td>"
        + ", ".join(f"<code>{escape(m)}</code>" for _, m in e.members) + "</td></tr>" for e in excluded)
    return (f'<p class="muted">Excluded neighbours (kept out of the graph by stitching.excluded_ids; at most '
            f"{TABLE_ROWS} links listed for a profile too large to draw):</p>"
            '<table id="profile-excluded"><tr><th>id</th><th>type</th><th>rule</th><th>detail</th>'
            "<th>linked to</th></tr>" + rows + "</table>")


def graph_svg(view: ProfileView) -> str:
    """The profile's ids and excluded neighbours placed by the spring layout, links under nodes."""
    keys = [(i.other_id_type, i.other_id) for i in view.ids] + [(e.other_id_type, e.other_id) for e in view.excluded]
    index = {key: n for n, key in enumerate(keys)}
    links = [(index[("anonymous_id", a)], index[("user_id", u)]) for a, u in view.links]
    to_excluded = [(index[member], index[(e.other_id_type, e.other_id)]) for e in view.excluded for member in e.members]
    points = [(MARGIN + x * (WIDTH - 2 * MARGIN), MARGIN + y * (HEIGHT - 2 * MARGIN))
              for x, y in spring_layout(len(keys), links + to_excluded)]
    radius = max(2.5, min(8.0, 160 / max(len(keys), 1) ** 0.5))
    parts = [_edge(points[a], points[b], "edge") for a, b in links]
    parts += [_edge(points[a], points[b], "edge to-excluded") for a, b in to_excluded]
    parts += [_member(i, points[n], radius) for n, i in enumerate(view.ids)]
    parts += [_excluded(e, points[len(view.ids) + n], radius) for n, e in enumerate(view.excluded)]
    if len(keys) <= LABELLED:
        parts += [_label(key[1], point, radius) for key, point in zip(keys, points, strict=True)]
    return (f'<svg id="profile-graph" class="graph" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'data-nodes="{len(keys)}" data-edges="{len(links) + len(to_excluded)}">' + "".join(parts) + "</svg>")


def _edge(a: tuple[float, float], b: tuple[float, float], css: str) -> str:
    return f'<line class="{css}" x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}"/>'


def _shape(id_type: str, point: tuple[float, float], radius: float, attributes: str, title: str) -> str:
    """user_id: a circle, anonymous_id: a square of the same area."""
    x, y = point
    if id_type == "user_id":
        return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" {attributes}>'
                f"<title>{escape(title)}</title></circle>")
    side = radius * 1.77
    return (f'<rect x="{x - side / 2:.1f}" y="{y - side / 2:.1f}" width="{side:.1f}" height="{side:.1f}" '
            f"{attributes}><title>{escape(title)}</title></rect>")


def _member(member: ProfileId, point: tuple[float, float], radius: float) -> str:
    css = f"node {member.other_id_type.replace('_', '-')}"
    data = f'data-id="{escape(member.other_id)}" data-id-type="{escape(member.other_id_type)}"'
    title = f"{member.other_id_type} {member.other_id}"
    if member.bridge_links is not None:
        css += " bridge"
        data += _bridge_data(member)
        title += f"\nbridge id: linked to {member.bridge_links} ids of the other type (stitching.stitch_bridge_ids)"
    return _shape(member.other_id_type, point, radius, f'class="{css}" {data}', title)


def _excluded(neighbour: ExcludedNeighbour, point: tuple[float, float], radius: float) -> str:
    data = (f'data-id="{escape(neighbour.other_id)}" data-id-type="{escape(neighbour.other_id_type)}" '
            f'data-excluded="true" data-reason="{escape(neighbour.reason)}"')
    title = (f"{neighbour.other_id_type} {neighbour.other_id}\nkept out of the graph: {neighbour.reason} "
             f"({neighbour.detail}); linked to {len(neighbour.members)} id(s) of this profile")
    return _shape(neighbour.other_id_type, point, radius, f'class="node excluded" {data}', title)


def _label(text: str, point: tuple[float, float], radius: float) -> str:
    short = text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"
    # beside the node, on the side towards the centre, so no label runs out of the picture
    x, anchor = (point[0] + radius + 3, "start") if point[0] < WIDTH / 2 else (point[0] - radius - 3, "end")
    return (f'<text class="node-label" x="{x:.1f}" y="{point[1] + 3.5:.1f}" text-anchor="{anchor}">'
            f"{escape(short)}</text>")


def _legend_shape(shape: str) -> str:
    return f'<svg width="16" height="16" viewBox="0 0 16 16">{shape}</svg>'


LEGEND = ('<p class="legend muted">'
          + _legend_shape('<circle class="node user-id" cx="8" cy="8" r="6"/>') + " user_id "
          + _legend_shape('<rect class="node anonymous-id" x="2.5" y="2.5" width="11" height="11"/>')
          + " anonymous_id "
          + _legend_shape('<circle class="node user-id bridge" cx="8" cy="8" r="5.5"/>')
          + " bridge id (stitching.stitch_bridge_ids) "
          + _legend_shape('<rect class="node excluded" x="2.5" y="2.5" width="11" height="11"/>')
          + " excluded neighbour (stitching.excluded_ids; rule on hover), dashed edge: its link. "
          "Lines: identify events joining an anonymous_id and a user_id.</p>")
