"""The review page as one server-rendered HTML document."""

from __future__ import annotations

import re
from html import escape
from urllib.parse import quote, urlencode

from c360_review.charts import cluster_size_chart, largest_cluster_chart
from c360_review.profile_graph import STYLE as GRAPH_STYLE
from c360_review.profile_graph import profile_section, profile_url
from c360_review.queries import GATE_DAG, PageData

# The gate names the largest profile in its check's detail (include/quality/checks.py): linked to its picture.
NAMED_PROFILE = re.compile(r"user_main_id ([0-9a-f]{32})")

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1f2933;max-width:1400px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d9e2ec;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border:1px solid #d9e2ec;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#f0f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{padding:1px 7px;border-radius:9px;font-weight:600;font-size:12px;text-transform:uppercase}
.pass{background:#d3f9d8;color:#1b5e20}.warn{background:#fff3bf;color:#8a6100}.fail{background:#ffd8d8;color:#a61b1b}
tr.selected{outline:2px solid #3b82f6}pre{margin:0;white-space:pre-wrap;font-size:12px}
.charts{display:flex;gap:24px;flex-wrap:wrap}.grid{stroke:#e4e7eb}.tick{font-size:11px;fill:#52606d}
.chart-title{font-size:13px;font-weight:600}.bar{fill:#4c8bf5}.value{font-size:11px;fill:#1f2933}
.trend{fill:none;stroke:#4c8bf5;stroke-width:2}.point{fill:#1f5fd1}
.warn-line{stroke:#e6a700;stroke-dasharray:6 4}.fail-line{stroke:#d64545;stroke-dasharray:6 4}
.muted{color:#7b8794;font-size:12px}
"""


def _task_log(run_id: str, task_id: str, try_number: int | None = None) -> str:
    # Relative to the server root, so the link works whatever host on-call reached Airflow by.
    suffix = f"?try_number={try_number}" if try_number else ""
    return f"/dags/{GATE_DAG}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id)}{suffix}"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if abs(value) < 1 and value != 0 else f"{value:,.10g}"


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


def runs_table(data: PageData, base: str) -> str:
    rows = []
    for r in data.runs:
        selected = ' class="selected"' if r.run_id == data.selected_run else ""
        rows.append(
            f'<tr{selected} data-run="{escape(r.run_id)}" data-verdict="{r.verdict}">'
            f'<td><a href="{base}?{urlencode({"run_id": r.run_id})}">{escape(r.run_id)}</a></td>'
            f"<td>{r.checked_at:%Y-%m-%d %H:%M}</td><td>{_badge(r.verdict)}</td>"
            f'<td class="num">{r.passed}</td><td class="num">{r.warned}</td><td class="num">{r.failed}</td>'
            f'<td class="num">{_num(r.largest_cluster)}</td>'
            f'<td><a href="{_task_log(r.run_id, "dq_gate")}">gate log</a></td></tr>')
    if not rows:
        return '<p class="empty">No gate results yet: run the customer_360 DAG.</p>'
    return ('<table id="runs"><tr><th>run</th><th>gate checked (UTC)</th><th>verdict</th><th>pass</th><th>warn</th>'
            "<th>fail</th><th>largest cluster</th><th>log</th></tr>" + "".join(rows) + "</table>")


def _detail(detail: str | None, base: str) -> str:
    return NAMED_PROFILE.sub(lambda m: f'user_main_id <a class="profile-link" href="{profile_url(base, m[1])}">'
                                       f"{m[1]}</a>", escape(detail or ""))


def checks_table(data: PageData, base: str = "") -> str:
    if not data.checks:
        return '<p class="empty">No checks for this run.</p>'
    rows = "".join(
        f'<tr data-check="{escape(c["check_name"])}" data-status="{escape(c["status"])}" '
        f'data-observed="{"" if c["observed_value"] is None else repr(float(c["observed_value"]))}">'
        f'<td>{_badge(c["status"])}</td><td>{escape(c["check_name"])}</td><td>{escape(c["layer"] or "")}</td>'
        f'<td class="num">{_num(c["observed_value"])}</td><td>{escape(c["threshold"] or "")}</td>'
        f'<td class="num">{_num(c["baseline_value"])}</td><td>{_detail(c["detail"], base)}</td></tr>'
        for c in data.checks)
    return ('<table id="checks"><tr><th>status</th><th>check</th><th>layer</th><th>observed</th><th>threshold</th>'
            "<th>previous run</th><th>detail</th></tr>" + rows + "</table>")


def alerts_table(data: PageData) -> str:
    if not data.alerts:
        return '<p class="empty" id="alerts">No alerts recorded.</p>'
    rows = []
    for a in data.alerts:
        checks = "<br>".join(f"{escape(c['check_name'])}: {escape(str(c['observed_value']))} vs "
                             f"{escape(str(c['threshold']))}" for c in a["failing_checks"])
        link = (f'<a href="{_task_log(a["run_id"], a["task_id"], a["try_number"])}">task log</a>'
                if a["task_id"] else "")
        rows.append(
            f'<tr data-kind="{escape(a["kind"])}"><td>{a["created_at"]:%Y-%m-%d %H:%M:%S}</td>'
            f'<td>{escape(a["kind"])}</td><td>{escape(a["run_id"] or "")}</td><td>{escape(a["layer"] or "")}</td>'
            f'<td>{escape(a["task_id"] or "")}</td><td class="num">{a["try_number"] or ""}</td>'
            f'<td><pre>{escape((a["exception"] or "")[:600])}</pre></td><td>{checks}</td>'
            f'<td>{escape(a["delivered_via"] or "")}</td><td>{link}</td></tr>')
    return ('<table id="alerts"><tr><th>at (UTC)</th><th>kind</th><th>run</th><th>layer</th><th>task</th><th>try</th>'
            "<th>error</th><th>failing checks</th><th>sent via</th><th>log</th></tr>" + "".join(rows) + "</table>")


def lineage_table(data: PageData) -> str:
    if not data.lineage:
        return ('<p class="empty" id="lineage">No profile changes recorded: stitching.user_main_id_changes is empty '
                "or not there yet (rows come with each publish that changes membership).</p>")
    rows = "".join(
        f'<tr><td>{escape(r["run_id"])}</td><td>{r["changed_at"]:%Y-%m-%d %H:%M}</td>'
        + "".join(f'<td class="num">{int(r[k] or 0)}</td>' for k in ("merged", "split", "renamed", "ids_moved"))
        + "</tr>" for r in data.lineage)
    return ('<table id="lineage"><tr><th>published run</th><th>at (UTC)</th><th>profiles merged</th><th>split</th>'
            "<th>renamed</th><th>ids moved</th></tr>" + rows + "</table>")


def history_table(data: PageData, base: str) -> str:
    """The requested profile's renames across runs, each other profile a link to its own picture."""
    if data.profile is None or not data.profile.requested.strip():
        return ""
    if not data.history:
        return '<p class="muted" id="history">No recorded change involves this user_main_id.</p>'
    rows = "".join(
        f'<tr><td>{escape(r["run_id"])}</td><td>{escape(r["change"])}</td>'
        f'<td><a href="{profile_url(base, r["previous_user_main_id"])}">{escape(r["previous_user_main_id"])}</a></td>'
        f'<td><a href="{profile_url(base, r["user_main_id"])}">{escape(r["user_main_id"])}</a></td>'
        f'<td class="num">{r["ids_moved"]}</td></tr>' for r in data.history)
    return ('<h3>Its history across runs</h3><table id="history"><tr><th>run</th><th>change</th><th>from</th>'
            "<th>to</th><th>ids moved</th></tr>" + rows + "</table>")


def _type_select(name: str, chosen: str | None) -> str:
    options = "".join(f'<option value="{v}"{" selected" if v == (chosen or "") else ""}>{label}</option>'
                      for v, label in (("", "any type"), ("user_id", "user_id"), ("anonymous_id", "anonymous_id")))
    return f'<select name="{name}">{options}</select>'


def path_section(data: PageData, base: str) -> str:
    """A form for two ids, then the investigation's answer: the chain of links, or why they are apart."""
    request = data.path.request if data.path else None
    form = (f'<form id="path-form" method="get" action="{escape(base)}#path">'
            f'<label>id <input name="id" size="30" value="{escape(request.id if request else "")}"></label> '
            f'{_type_select("id_type", request.id_type if request else None)} '
            f'<label>other id <input name="other_id" size="30" value="{escape(request.other_id if request else "")}">'
            f'</label> {_type_select("other_id_type", request.other_id_type if request else None)} '
            '<button type="submit">Explain</button></form>')
    if data.path is None:
        return form + ('<p class="muted">Two ids: the shortest chain of identify links between them, each with the '
                       "event that made it, or why they are not in one profile (latest build).</p>")
    if data.path.message:
        return form + f'<p id="path-message">{escape(data.path.message)}</p>'
    answer = data.path.answer
    profile = (f'<p><a id="path-profile" href="{profile_url(base, answer.user_main_id)}">Draw profile '
               f"{escape(answer.user_main_id)}</a></p>" if answer.user_main_id else "")
    return (form + f'<pre id="path-answer" data-verdict="{escape(answer.verdict)}" '
            f'data-links="{len(answer.links)}">{escape(answer.text())}</pre>{profile}')


def publication(data: PageData) -> str:
    """Which run readers see, and whether the latest run is it."""
    published, latest = data.published, data.latest
    if published is None:
        return ('<p id="publication" class="warn">Nothing is published yet: the contract tables appear when a '
                "run's gate passes.</p>")
    seen = (f"Readers see run <strong>{escape(published.run_id)}</strong> (the {escape(published.colour)} build, "
            f"published {published.published_at:%Y-%m-%d %H:%M} UTC).")
    if latest is None or latest.run_id == published.run_id:
        return f'<p id="publication" class="pass">{seen}</p>'
    return (f'<p id="publication" class="fail">{seen} The latest run, {escape(latest.run_id)}, was not published '
            f"(its gate failed, or it has not finished): readers are still on the previous run. Its build is in the "
            f"{escape(latest.colour)} schemas (stitching__{escape(latest.colour)}, ...); profile graphs below show it."
            "</p>")


def render(data: PageData, base: str, thresholds: dict, warehouse: str) -> str:
    largest = thresholds.get("stitching", {}).get("largest_cluster_ids", {})
    selected = escape(data.selected_run or "none")
    missing = (f'<p class="muted">Not yet in the warehouse: {", ".join(data.missing)}.</p>' if data.missing else "")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Customer 360 on-call review</title>
<style>{STYLE}{GRAPH_STYLE}</style></head><body>
<h1>Customer 360 on-call review</h1>
<p class="muted">Warehouse {escape(warehouse)} (read-only). Gate thresholds: include/pipeline.yml. {missing}</p>
{publication(data)}
<h2>Latest runs</h2>{runs_table(data, base)}
<h2>Checks of run <span id="selected-run">{selected}</span></h2>
<p class="muted"><a href="{_task_log(data.selected_run or '', 'dq_gate')}">dq_gate task log</a> ·
stitching failures: trigger the <a href="/dags/stitching_investigation">stitching_investigation</a> DAG</p>
{checks_table(data, base)}
<h2>Stitching health</h2><div class="charts">{cluster_size_chart(data.cluster_sizes)}
{largest_cluster_chart(data.largest_trend, largest.get("warn"), largest.get("fail"))}</div>
<h2 id="path">Why are these two ids in one profile?</h2>{path_section(data, base)}
<h2 id="profile">Profile graph</h2>{profile_section(data.profile, base)}{history_table(data, base)}
<h2>Identity lineage</h2><p class="muted">Per published run, from stitching.user_main_id_changes.</p>
{lineage_table(data)}
<h2>Alert history</h2>{alerts_table(data)}
</body></html>"""
