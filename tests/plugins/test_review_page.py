"""The on-call review page in a real Airflow API server (simple auth manager) on loopback, read by
headless Chromium after logging in, against the warehouse of the gate runs (tests/e2e/test_dq_gate_runs.py).
Every process started here is stopped, also when a test fails."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from include.publishing.build import reading
from include.warehouse.db import Db
from tests.conftest import BIN, PROJECT_ROOT, airflow_env
from tests.e2e.test_dq_gate_runs import (
    BRIDGED_USERS,
    OVERSTITCHED_IDS,
    SHARED_DEVICE,
    GateRuns,
    free_port,
    gate_runs_for,
)
from tests.plugins.test_profile_graph import (
    HOSTILE_ANON,
    HOSTILE_EXCLUDED,
    HOSTILE_PROFILE,
    HOSTILE_REASON_DETAIL,
    HOSTILE_SECOND_USER,
    HOSTILE_USER,
    add_hostile_profile,
)

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
USER, PASSWORD = "oncall", "review-s3cret"
PAGE = "/c360-review/"
# The gate runs' second (refused) run built the green schemas; the profile graphs read that latest build.
LATEST = "stitching__green"


@dataclass
class Server:
    url: str
    log: Path


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process started in its own session, with its children (uvicorn workers, renderers)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _token(server: Server) -> str:
    request = urllib.request.Request(f"{server.url}/auth/token", method="POST",
                                     data=json.dumps({"username": USER, "password": PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())["access_token"]


@pytest.fixture(scope="module")
def gate_runs(request: pytest.FixtureRequest) -> GateRuns:
    return gate_runs_for(request)


@pytest.fixture(scope="module")
def warehouse(gate_runs: GateRuns, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gate runs' warehouse plus one profile of hostile ids (tests/plugins/test_profile_graph.py), in a
    copy: the shared warehouse stays as the DAG runs left it."""
    copy = tmp_path_factory.mktemp("review_warehouse") / "warehouse.duckdb"
    for suffix in ("", ".wal"):
        if Path(f"{gate_runs.warehouse}{suffix}").exists():
            shutil.copy2(f"{gate_runs.warehouse}{suffix}", f"{copy}{suffix}")
    with duckdb.connect(str(copy)) as con:
        # into the latest build, the one the page's profile graphs read (the gate runs' refused one)
        add_hostile_profile(reading(Db(con), "latest"))
    return copy


@pytest.fixture(scope="module")
def server(gate_runs: GateRuns, warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("api_server_home")
    shutil.copy2(Path(gate_runs.env["AIRFLOW_HOME"]) / "airflow.db", home / "airflow.db")
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = airflow_env(
        home, warehouse,
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        # a viewer may read DAG runs: the page must not need more
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USER}:viewer",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__API__BASE_URL=url, AIRFLOW__API_AUTH__JWT_SECRET="review-page-test-secret",
        AIRFLOW__API__SECRET_KEY="review-page-test-secret",
    )
    log = home / "api-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(BIN / "airflow"), "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"api-server exited: {log.read_text()[-3000:]}")
            try:
                if _get(f"{url}/api/v2/monitor/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            pytest.fail(f"api-server did not come up: {log.read_text()[-3000:]}")
        yield Server(url, log)
    finally:
        _stop(proc)


def test_unauthenticated_or_forged_requests_are_refused(server: Server) -> None:
    status, body = _get(server.url + PAGE)
    assert status in (401, 403), body[:500]
    assert "Log in to Airflow" in body
    assert "dq_gate" not in body
    assert _get(server.url + PAGE, {"Authorization": "Bearer not-a-jwt"})[0] in (401, 403)
    assert _get(server.url + PAGE, {"Cookie": "_token=forged"})[0] in (401, 403)


def test_a_logged_in_user_gets_the_page(server: Server, gate_runs: GateRuns) -> None:
    status, body = _get(server.url + PAGE, {"Authorization": f"Bearer {_token(server)}"})
    assert status == 200, body[:500]
    assert gate_runs.broken.run_id in body and gate_runs.clean.run_id in body
    # The refused run is the latest; on-call sees that readers are still on the clean one.
    banner = re.search(r'<p id="publication" class="(\w+)">(.*?)</p>', body, re.S)
    assert banner and banner.group(1) == "fail", body[:2000]
    assert f"Readers see run <strong>{html.escape(gate_runs.clean.run_id)}</strong>" in banner.group(2)
    assert html.escape(gate_runs.broken.run_id) in banner.group(2)
    assert "readers are still on the previous run" in banner.group(2)


def test_the_page_explains_why_two_ids_share_a_profile(server: Server) -> None:
    """The two people the refused run's shared device joined: their chain runs through it."""
    anna, ben = BRIDGED_USERS
    query = urllib.parse.urlencode({"id": anna, "id_type": "user_id", "other_id": ben, "other_id_type": "user_id"})
    status, body = _get(f"{server.url}{PAGE}?{query}", {"Authorization": f"Bearer {_token(server)}"})
    assert status == 200, body[:500]
    answer = re.search(r'<pre id="path-answer" data-verdict="(\w+)" data-links="(\d+)">(.*?)</pre>', body, re.S)
    assert answer and answer.group(1) == "linked" and answer.group(2) == "2", body[-3000:]
    assert SHARED_DEVICE in answer.group(3)


class DevTools:
    """Just enough of the Chrome DevTools protocol: one page, commands answered in order."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self._connection = connect(ws_url, max_size=64 * 2**20, open_timeout=30)
        self.ws = self._connection.__enter__()
        self.next_id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params: object) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session or getattr(self, "session", None):
            message["sessionId"] = session or self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str) -> object:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        self._connection.__exit__(None, None, None)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1",
         "--window-size=1400,2000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    tools = None
    try:
        deadline = time.monotonic() + 60
        ws_url = None
        while ws_url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                pytest.fail("chromium exited before DevTools started")
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            ws_url = match.group(1) if match else None
        assert ws_url, "chromium did not announce its DevTools endpoint"
        tools = DevTools(ws_url)
        yield tools
    finally:
        if tools:
            tools.close()
        _stop(proc)


def _open(browser: DevTools, server: Server, url: str, ready: str) -> None:
    """Load url as a logged-in user and wait until the element `ready` (a CSS selector) is there."""
    # What the Airflow login page does after POST /auth/token: keep the token in the _token cookie.
    browser.call("Network.enable")
    assert browser.call("Network.setCookie", name="_token", value=_token(server), url=server.url + "/",
                        path="/")["success"]
    browser.call("Page.enable")
    browser.call("Page.navigate", url=url)
    deadline = time.monotonic() + 60
    while browser.evaluate("document.readyState") != "complete" or not browser.evaluate(
            f"!!document.querySelector({json.dumps(ready)})"):
        assert time.monotonic() < deadline, browser.evaluate("document.body && document.body.innerText")
        time.sleep(0.5)


def _keep(browser: DevTools, name: str) -> None:
    """A screenshot and the DOM in test-artifacts/, to look at when a test fails."""
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.png").write_bytes(base64.b64decode(shot))
    (ARTIFACTS / f"{name}.html").write_text(browser.evaluate("document.documentElement.outerHTML"))


def test_the_browser_shows_the_check_table_and_charts_with_the_runs_numbers(
        server: Server, gate_runs: GateRuns, browser: DevTools) -> None:
    _open(browser, server, server.url + PAGE, "#checks")
    _keep(browser, "review_page")

    run_id = gate_runs.broken.run_id  # the latest run is selected by default
    assert browser.evaluate("document.querySelector('#selected-run').textContent") == run_id
    with duckdb.connect(str(gate_runs.warehouse), read_only=True) as con:
        expected_checks = dict(con.execute("select check_name, status from audit.dq_gate_results where run_id = $r",
                                           {"r": run_id}).fetchall())
        expected_sizes = {(f"{lo}" if lo == hi else f"{lo}-{hi}"): n for lo, hi, n in con.execute(
            "select min_ids, max_ids, profiles from audit.dq_cluster_sizes where run_id = $r", {"r": run_id})
            .fetchall()}
        largest = con.execute("select observed_value from audit.dq_gate_results where run_id = $r and "
                              "check_name = 'stitching:largest_cluster_ids'", {"r": run_id}).fetchone()[0]
    shown_checks = dict(browser.evaluate(
        "[...document.querySelectorAll('#checks tr[data-check]')].map(r => [r.dataset.check, r.dataset.status])"))
    assert shown_checks == expected_checks
    shown_sizes = dict(browser.evaluate(
        "[...document.querySelectorAll('#cluster-size-chart rect.bar')]"
        ".map(r => [r.dataset.bucket, Number(r.dataset.profiles)])"))
    assert shown_sizes == expected_sizes and "8193-16384" in shown_sizes  # the over-stitched profile
    # rendered, not only present: the chart and its bars have a size on screen
    chart_box = browser.evaluate("(() => { const b = document.querySelector('#cluster-size-chart')"
                                 ".getBoundingClientRect(); return [b.width, b.height]; })()")
    assert chart_box[0] > 300 and chart_box[1] > 150
    assert browser.evaluate("Math.min(...[...document.querySelectorAll('#cluster-size-chart rect.bar')]"
                            ".map(r => r.getBoundingClientRect().height))") > 0
    trend = browser.evaluate("[...document.querySelectorAll('#largest-cluster-chart circle.point')]"
                             ".map(c => [c.dataset.run, Number(c.dataset.value)])")
    assert trend[-1] == [run_id, largest]
    assert [r for r, _ in trend][-2:] == [gate_runs.clean.run_id, run_id]
    # the alert history lists the gate alert, with a link to the failed try's log
    assert browser.evaluate("document.querySelectorAll('#alerts tr[data-kind=\"task_failed\"]').length") >= 1
    assert browser.evaluate("[...document.querySelectorAll('#alerts a')].some(a => a.href.includes("
                            "'/tasks/dq_gate?try_number=1'))")


# --- the profile graph (plugins/c360_review/profile_graph.py) -------------------------------------------

NODES = "[...document.querySelectorAll('#profile-graph .node')]"


def _profile_url(server: Server, user_main_id: str) -> str:
    return f"{server.url}{PAGE}?user_main_id={user_main_id}"


def _excluded_neighbours(con: duckdb.DuckDBPyConnection) -> dict[str, dict[tuple[str, str], str]]:
    """Per profile, its excluded neighbours and their reason, worked out in Python from the raw rows (the page
    does it in SQL): an identify event joins a member to an id of the latest build's excluded_ids."""
    profile_of = {(t, i): m for m, i, t in con.execute(
        f"select user_main_id, other_id, other_id_type from {LATEST}.user_id_stitcher").fetchall()}
    excluded = {(t, i): r for i, t, r in con.execute(
        f"select other_id, other_id_type, reason from {LATEST}.excluded_ids").fetchall()}
    found: dict[str, dict[tuple[str, str], str]] = {}
    for anon, user in con.execute("select anonymous_id, user_id from staging.stg_rudderstack__identifies "
                                  "where anonymous_id is not null and user_id is not null").fetchall():
        for member, other in ((("anonymous_id", anon), ("user_id", user)), (("user_id", user), ("anonymous_id", anon))):
            if member in profile_of and other in excluded:
                found.setdefault(profile_of[member], {})[other] = excluded[other]
    return found


def _shown_nodes(browser: DevTools) -> list[dict]:
    return browser.evaluate(
        f"{NODES}.map(n => {{ const b = n.getBoundingClientRect(); return {{id: n.dataset.id, type: n.dataset.idType,"
        " bridge: n.dataset.bridge === 'true', excluded: n.dataset.excluded === 'true', reason: n.dataset.reason,"
        " title: n.querySelector('title').textContent, w: b.width, x: b.x + b.width / 2, y: b.y + b.height / 2};"
        " })")


def test_the_browser_draws_a_profile_with_every_id_its_bridge_ids_and_excluded_neighbours(
        server: Server, warehouse: Path, browser: DevTools) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sizes = dict(con.execute(f"select user_main_id, count(*) from {LATEST}.user_id_stitcher "
                                 "group by user_main_id").fetchall())
        neighbours = _excluded_neighbours(con)
        shared = con.execute(f"select user_main_id from {LATEST}.user_id_stitcher where other_id = ?",
                             [SHARED_DEVICE]).fetchone()[0]
        # the drawable profile with the most excluded neighbours (the generator's kiosks and template ids)
        crowded = max((m for m in neighbours if sizes[m] + len(neighbours[m]) <= 2_000),
                      key=lambda m: (len(neighbours[m]), m))
        expected = {}
        for user_main_id in (shared, crowded):
            ids = set(con.execute(f"select other_id, other_id_type from {LATEST}.user_id_stitcher "
                                  "where user_main_id = ?", [user_main_id]).fetchall())
            bridges = {i for (i,) in con.execute(f"select other_id from {LATEST}.stitch_bridge_ids "
                                                 "where user_main_id = ?", [user_main_id]).fetchall()}
            links = con.execute(
                "select count(*) from (select distinct anonymous_id, user_id from staging.stg_rudderstack__identifies "
                f"where anonymous_id in (select other_id from {LATEST}.user_id_stitcher where user_main_id = $m "
                f"and other_id_type = 'anonymous_id') and user_id in (select other_id from {LATEST}.user_id_stitcher "
                "where user_main_id = $m and other_id_type = 'user_id'))", {"m": user_main_id}).fetchone()[0]
            expected[user_main_id] = ids, bridges, links
    assert len(neighbours[crowded]) >= 1 and SHARED_DEVICE in expected[shared][1]

    for user_main_id, (ids, bridges, links) in expected.items():
        _open(browser, server, _profile_url(server, user_main_id), "#profile-summary")
        _keep(browser, "profile_graph" if user_main_id == shared else "profile_graph_excluded")
        nodes = _shown_nodes(browser)
        members = [n for n in nodes if not n["excluded"]]
        assert len(members) == sizes[user_main_id]
        assert {(n["id"], n["type"]) for n in members} == ids
        assert {n["id"] for n in members if n["bridge"]} == bridges
        # excluded neighbours, counted apart, each with its rule on hover
        outside = {(n["type"], n["id"]): n for n in nodes if n["excluded"]}
        assert {k: n["reason"] for k, n in outside.items()} == neighbours.get(user_main_id, {})
        assert all(f"kept out of the graph: {n['reason']}" in n["title"] for n in outside.values())
        assert browser.evaluate("document.querySelectorAll('#profile-graph line.edge:not(.to-excluded)').length") \
            == links
        # drawn, not only present: every node has a size and lies inside the picture
        box = browser.evaluate("(() => { const b = document.querySelector('#profile-graph').getBoundingClientRect();"
                               " return [b.left, b.top, b.right, b.bottom]; })()")
        assert box[2] - box[0] > 600 and box[3] - box[1] > 400
        assert all(n["w"] > 0 and box[0] < n["x"] < box[2] and box[1] < n["y"] < box[3] for n in nodes)


def test_the_largest_profile_is_linked_from_its_check_and_listed_not_drawn(
        server: Server, warehouse: Path, browser: DevTools) -> None:
    _open(browser, server, server.url + PAGE, "#checks")
    # the gate names the over-stitched profile in the largest-cluster check: its link opens the profile view
    href = browser.evaluate("document.querySelector('#checks tr[data-check=\"stitching:largest_cluster_ids\"] "
                            "a.profile-link')?.href")
    assert href, "the largest-cluster check links no profile"
    _open(browser, server, href, "#profile-summary")
    _keep(browser, "profile_too_large")
    user_main_id = browser.evaluate("document.querySelector('#profile-summary').dataset.userMainId")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ids = con.execute(f"select count(*) from {LATEST}.user_id_stitcher where user_main_id = ?",
                          [user_main_id]).fetchone()[0]
        bridges = con.execute(f"select count(*) from {LATEST}.stitch_bridge_ids where user_main_id = ?",
                              [user_main_id]).fetchone()[0]
    assert ids == OVERSTITCHED_IDS and bridges > 200
    assert browser.evaluate("document.querySelector('#profile-graph')") is None
    assert f"it has {OVERSTITCHED_IDS:,} ids, more than the 2,000 this page draws" in browser.evaluate(
        "document.querySelector('#profile-too-large').textContent")
    rows = browser.evaluate("[...document.querySelectorAll('#profile-ids tr[data-id]')].map(r => r.dataset.bridge)")
    assert rows == ["true"] * 200  # the first 200 ids, bridge ids first


def test_hostile_ids_are_escaped_in_the_browser(server: Server, browser: DevTools) -> None:
    _open(browser, server, _profile_url(server, HOSTILE_PROFILE), "#profile-summary")
    _keep(browser, "profile_hostile")
    assert browser.evaluate("document.title") == "Customer 360 on-call review"  # no injected script ran
    assert browser.evaluate("window.pwned") is None
    assert browser.evaluate("document.querySelectorAll('script, img, b, i').length") == 0
    nodes = {n["id"]: n for n in _shown_nodes(browser)}
    # each id reaches the browser exactly as stored: as data, in its tooltip and in its label
    assert set(nodes) == {HOSTILE_USER, HOSTILE_ANON, HOSTILE_SECOND_USER, HOSTILE_EXCLUDED}
    assert nodes[HOSTILE_ANON]["bridge"] and nodes[HOSTILE_EXCLUDED]["excluded"]
    assert HOSTILE_REASON_DETAIL in nodes[HOSTILE_EXCLUDED]["title"]
    assert all((n["title"] + "\n").startswith(f"{n['type']} {n['id']}\n") for n in nodes.values())
    labels = browser.evaluate("[...document.querySelectorAll('#profile-graph text')].map(t => t.textContent)")
    assert sorted(labels) == sorted(i if len(i) <= 28 else i[:27] + "…" for i in nodes)  # labels cut at 28


@pytest.mark.parametrize(("user_main_id", "message"), [
    ("0" * 32, "No profile has user_main_id 00000000000000000000000000000000 in stitching.user_id_stitcher"),
    ("%3Cb%3Enot-an-id", "&#x27;&lt;b&gt;not-an-id&#x27; is not a user_main_id"),
])
def test_an_unknown_profile_is_a_message_on_the_page(server: Server, user_main_id: str, message: str) -> None:
    status, body = _get(_profile_url(server, user_main_id), {"Authorization": f"Bearer {_token(server)}"})
    assert status == 200 and 'id="profile-message"' in body and message in body
    assert "<b>" not in body
