"""The Slack notifier, executed: deliver() posts the alert to a Slack incoming webhook (here a receiver
on loopback standing in for hooks.slack.com), records how it went out, and never logs the webhook's
URL, whose last path segments are its secret token."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

# Imported before any test starts: importing Airflow configures logging afresh, which would drop
# the handler caplog adds for a test, and every "no token in the logs" check would pass on nothing.
import airflow.providers.slack.notifications.slack_webhook  # noqa: F401
import pytest

from include.oncall.alert import Alert, alert_from_task_context
from include.oncall.delivery import deliver, spool_path
from tests.unit.oncall.test_alerts import recorded

RUN = "manual__2026-11-20T10:00:00+00:00"
SECRET = "XXXsecretWebhookToken42"  # pragma: allowlist secret
TOKEN = f"T000/B000/{SECRET}"
TIMEOUT = 5  # seconds: the Slack client's (connection extra) and the receiver's sockets
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


@dataclass
class Receiver:
    """A Slack incoming-webhook endpoint on 127.0.0.1: records every request, answers with `status`."""

    status: int = 200
    answer: bytes = b"ok"
    requests: list[dict] = field(default_factory=list)
    port: int = 0

    @property
    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        timeout = TIMEOUT

        def _record(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.requests.append({"method": method, "path": self.path, "headers": dict(self.headers),
                                   "body": self.rfile.read(length)})
            self.send_response(state.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

        def do_POST(self) -> None:
            self._record("POST")

        def do_GET(self) -> None:
            self._record("GET")

        def log_message(self, format: str, *args: object) -> None:  # the base class's signature
            pass  # the request line holds the token: keep it off stderr

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=TIMEOUT)


def slack_connection(port: int) -> str:
    """The c360_alerts_slack connection (include/pipeline.yml) as AIRFLOW_CONN_ JSON: endpoint in host,
    token in password, as the Slack provider's connection form has them."""
    return json.dumps({"conn_type": "slackwebhook", "host": f"http://127.0.0.1:{port}/services",
                       "password": TOKEN, "extra": {"timeout": TIMEOUT}})


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "w.duckdb"
    monkeypatch.setenv("C360_DUCKDB_PATH", str(path))
    monkeypatch.setenv("C360_TARGET", "duckdb")
    monkeypatch.delenv("AIRFLOW_CONN_C360_ALERTS_SMTP", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_C360_ALERTS_SLACK", raising=False)
    for name in PROXY_VARS:  # the client would send even a loopback request through a proxy
        monkeypatch.delenv(name, raising=False)
    return path


def an_alert() -> Alert:
    """A task failure alert as the on_failure_callback builds it (see tests/unit/oncall/test_alerts.py)."""
    error = RuntimeError("Database Error in model int_id_components\n  line 2\n  line 3\n4\n5\n6\n7\n8")
    ti = SimpleNamespace(dag_id="customer_360", task_id="stitching.int_id_components.run", run_id=RUN,
                         try_number=2, max_tries=1)
    logical = datetime(2026, 11, 20, 10, tzinfo=UTC)
    return alert_from_task_context({"ti": ti, "run_id": RUN, "exception": error, "logical_date": logical,
                                    "dag_run": SimpleNamespace(run_id=RUN, logical_date=logical)})


def logged(caplog: pytest.LogCaptureFixture) -> str:
    # The Slack client logs each request at DEBUG with its URL (redacted): seen, so the logs were captured.
    assert any(r.name == "include.oncall.delivery.slack_client" and r.getMessage().startswith("Sending a request")
               for r in caplog.records), "the Slack client's log was not captured"
    return "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)


def test_the_slack_notifier_posts_the_alert_once_and_never_logs_the_token(
        warehouse: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_C360_ALERTS_SLACK", slack_connection(receiver.port))
    caplog.set_level(logging.DEBUG)
    alert = an_alert()

    assert deliver(alert) == ["slack"]

    assert len(receiver.requests) == len(receiver.posts) == 1, receiver.requests
    (post,) = receiver.posts
    assert post["path"] == f"/services/{TOKEN}"
    assert post["headers"]["Content-Type"].startswith("application/json")
    payload = json.loads(post["body"])
    assert payload == {"text": f"```{alert.text()}```"}
    text = payload["text"]
    assert text.startswith("```[customer_360] stitching.int_id_components.run failed (stitching) in " + RUN)
    for line in ("DAG: customer_360", f"Run: {RUN}", "Logical date: 2026-11-20 10:00 UTC", "Layer: stitching",
                 "Task: stitching.int_id_components.run", "Try: 2 of 2",
                 "Error: RuntimeError: Database Error in model int_id_components\n  line 2\n  line 3\n4\n5\n6\n...",
                 "Next step: The log names the dbt model or test; for merges run the stitching_investigation DAG."):
        assert line in text, line
    assert "line 8" not in text  # the error's first lines only
    assert "?try_number=2" in text  # the task log's address

    (row,) = recorded(warehouse)
    assert (row["alert_id"], row["run_id"], row["delivered_via"]) == (alert.alert_id, RUN, "slack")
    assert not spool_path().exists()
    assert SECRET not in logged(caplog)


def test_a_webhook_answering_500_leaves_the_alert_recorded_as_not_sent_via_slack(
        warehouse: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    receiver.status, receiver.answer = 500, b"internal_error"
    monkeypatch.setenv("AIRFLOW_CONN_C360_ALERTS_SLACK", slack_connection(receiver.port))
    caplog.set_level(logging.DEBUG)
    alert = an_alert()

    assert deliver(alert) == []  # never raises

    assert len(receiver.posts) == 1  # a 500 is not retried
    assert json.loads(receiver.posts[0]["body"]) == {"text": f"```{alert.text()}```"}
    (row,) = recorded(warehouse)
    assert (row["alert_id"], row["delivered_via"]) == (alert.alert_id, "log")
    failures = [r for r in caplog.records
                if r.name == "include.oncall.delivery" and r.getMessage().startswith("alert not sent via slack")]
    assert len(failures) == 1 and failures[0].levelno == logging.WARNING
    assert "500" in failures[0].getMessage() and "internal_error" in failures[0].getMessage()
    assert SECRET not in logged(caplog)


def test_an_unreachable_webhook_is_retried_without_logging_its_url(
        warehouse: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # A closed port on loopback: the Slack client retries the connection error once and logs the
    # request URL when it does (_UrlRedactor); the alert is recorded as logged only.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_C360_ALERTS_SLACK", slack_connection(closed_port))
    caplog.set_level(logging.DEBUG)
    alert = an_alert()

    assert deliver(alert) == []

    (row,) = recorded(warehouse)
    assert (row["alert_id"], row["delivered_via"]) == (alert.alert_id, "log")
    text = logged(caplog)
    assert "alert not sent via slack" in text
    assert SECRET not in text and f"127.0.0.1:{closed_port}/services" not in text
