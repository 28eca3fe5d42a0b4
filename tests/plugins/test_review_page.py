"""The on-call review page in a real Airflow API server (simple auth manager) on loopback, read by
headless Chromium after logging in, against the warehouse of the gate runs (tests/e2e/test_dq_gate_runs.py).
Every process started here is stopped, also when a test fails."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import BIN, PROJECT_ROOT, airflow_env
from tests.e2e.test_dq_gate_runs import GateRuns, free_port, gate_runs_for

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
USER, PASSWORD = "oncall", "review-s3cret"
PAGE = "/c360-review/"


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
def server(gate_runs: GateRuns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("api_server_home")
    shutil.copy2(Path(gate_runs.env["AIRFLOW_HOME"]) / "airflow.db", home / "airflow.db")
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = airflow_env(
        home, gate_runs.warehouse,
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


def test_the_browser_shows_the_check_table_and_charts_with_the_runs_numbers(
        server: Server, gate_runs: GateRuns, browser: DevTools) -> None:
    token = _token(server)
    # What the Airflow login page does after POST /auth/token: keep the token in the _token cookie.
    browser.call("Network.enable")
    assert browser.call("Network.setCookie", name="_token", value=token, url=server.url + "/", path="/")["success"]
    browser.call("Page.enable")
    browser.call("Page.navigate", url=server.url + PAGE)
    deadline = time.monotonic() + 60
    while browser.evaluate("document.readyState") != "complete" or not browser.evaluate(
            "!!document.querySelector('#checks')"):
        assert time.monotonic() < deadline, browser.evaluate("document.body && document.body.innerText")
        time.sleep(0.5)

    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "review_page.png").write_bytes(base64.b64decode(shot))
    (ARTIFACTS / "review_page.html").write_text(browser.evaluate("document.documentElement.outerHTML"))

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
