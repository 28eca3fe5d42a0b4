"""Server-side SVG charts (no JS build): cluster sizes span orders of magnitude, so both charts use a
log-scale y axis."""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 48


def _log_axis(top_value: float, floor: float) -> tuple[float, float, list[float]]:
    """(log10 low, log10 high, gridline values) for values from floor to top_value."""
    high = max(1.0, math.ceil(math.log10(max(top_value, 1))))
    low = math.log10(floor)
    return low, high, [10.0**e for e in range(math.ceil(low), int(high) + 1)]


def _y(value: float, low: float, high: float) -> float:
    span = HEIGHT - TOP - BOTTOM
    return TOP + span * (1 - (math.log10(value) - low) / (high - low))


def _frame(title: str, low: float, high: float, grid: list[float], ylabel: str) -> list[str]:
    parts = [f'<text x="{LEFT}" y="12" class="chart-title">{escape(title)}</text>']
    for g in grid:
        y = _y(g, low, high)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{g:,.0f}</text>')
    parts.append(f'<text x="12" y="{HEIGHT / 2:.0f}" transform="rotate(-90 12 {HEIGHT / 2:.0f})" '
                 f'text-anchor="middle" class="tick">{escape(ylabel)} (log scale)</text>')
    return parts


def cluster_size_chart(buckets: list[tuple[int, int, int]]) -> str:
    """Profiles per cluster-size bucket (1, 2, 3-4, 5-8, ... ids)."""
    if not buckets:
        return '<p class="empty" id="cluster-size-chart">No cluster sizes recorded for this run.</p>'
    low, high, grid = _log_axis(max(b[2] for b in buckets), 0.5)
    parts = _frame("Profiles by cluster size (ids per profile)", low, high, grid, "profiles")
    slot = (WIDTH - LEFT - RIGHT) / len(buckets)
    base = _y(0.5, low, high)
    for i, (lo, hi, profiles) in enumerate(buckets):
        label = str(lo) if lo == hi else f"{lo}-{hi}"
        x = LEFT + i * slot + slot * 0.1
        y = _y(profiles, low, high)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" height="{base - y:.1f}" '
            f'data-bucket="{label}" data-profiles="{profiles}"><title>{label} ids: {profiles} profiles</title></rect>')
        parts.append(f'<text x="{x + slot * 0.4:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                     f'class="value">{profiles}</text>')
        parts.append(f'<text x="{x + slot * 0.4:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
                     f'class="tick">{label}</text>')
    parts.append(f'<text x="{(WIDTH + LEFT) / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle" class="tick">'
                 'ids per profile</text>')
    return _svg("cluster-size-chart", parts)


def largest_cluster_chart(points: list[tuple[str, float]], warn: float | None, fail: float | None) -> str:
    """Largest cluster per run, oldest first, with the gate's warn and fail lines."""
    if not points:
        return '<p class="empty" id="largest-cluster-chart">No largest-cluster values recorded yet.</p>'
    top = max([p[1] for p in points] + [v for v in (warn, fail) if v])
    low, high, grid = _log_axis(top * 1.5, 1)
    parts = _frame("Largest cluster per run (ids)", low, high, grid, "ids")
    for value, css in ((warn, "warn-line"), (fail, "fail-line")):
        if value:
            y = _y(value, low, high)
            parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="{css}"/>')
            parts.append(f'<text x="{WIDTH - RIGHT}" y="{y - 3:.1f}" text-anchor="end" class="tick">'
                         f'{css.split("-")[0]} {value:,.0f}</text>')
    step = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    coords = [(LEFT + step * (i + 0.5), _y(max(v, 1), low, high)) for i, (_, v) in enumerate(points)]
    if len(coords) > 1:
        parts.append('<polyline class="trend" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
    for (run_id, value), (x, y) in zip(points, coords, strict=True):
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4" data-run="{escape(run_id)}" '
                     f'data-value="{value:g}"><title>{escape(run_id)}: {value:,.0f} ids</title></circle>')
    parts.append(f'<text x="{(WIDTH + LEFT) / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle" class="tick">'
                 f'runs, oldest to newest ({len(points)})</text>')
    return _svg("largest-cluster-chart", parts)


def _svg(element_id: str, parts: list[str]) -> str:
    return (f'<svg id="{element_id}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">' + "".join(parts) + "</svg>")
