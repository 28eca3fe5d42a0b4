"""A local Snowflake emulator for `make run-fakesnow` and the tests: fakesnow's HTTP server on
loopback, its databases kept as DuckDB files in one folder, and the Airflow connection that points
the Snowflake target at it. fakesnow is a development dependency (requirements-dev.txt)."""

from __future__ import annotations

import contextlib
import importlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DATABASE = "c360"

_running: Emulator | None = None


@dataclass(frozen=True)
class Emulator:
    host: str
    port: int
    database: str = DATABASE  # dataclasses.replace() gives a user of the emulator a database of its own

    def connection(self) -> dict:
        """The Airflow connection (AIRFLOW_CONN_<ID> as JSON) of the Snowflake target on the emulator.
        The timeouts keep a client from retrying a failing statement for many minutes."""
        return {
            "conn_type": "snowflake", "login": "c360_loader", "schema": "public",
            "password": "emulator-ignores-it",  # pragma: allowlist secret
            "extra": {
                "account": "fakesnow", "database": self.database, "warehouse": "c360_wh", "role": "c360_role",
                "host": self.host, "port": self.port, "protocol": "http",
                "login_timeout": 30, "network_timeout": 120, "socket_timeout": 120,
            },
        }

    def connection_env(self, conn_id: str) -> dict[str, str]:
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(self.connection())}


def _free_port(host: str) -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(db_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> Iterator[Emulator]:
    """fakesnow's server in a thread of this process until the block ends. Every session shares one
    set of databases kept under db_dir: fakesnow's per-session FAKESNOW_DB_PATH opens the files once
    per login and never releases them (its sessions are not deleted), so a second login would fail,
    and dbt cannot set session parameters at all. The server's databases are a process-wide setting
    of fakesnow, so one emulator runs in a process at a time."""
    global _running
    if _running is not None:
        raise RuntimeError(f"a Snowflake emulator already runs in this process ({_running}); use that one")
    import uvicorn
    from fakesnow.instance import FakeSnow

    # the module, not the fakesnow.server() helper function the package exports under the same name
    server = importlib.import_module("fakesnow.server")

    db_dir = Path(db_dir)
    db_dir.mkdir(parents=True, exist_ok=True)
    fake = FakeSnow(db_path=db_dir)
    previous, server.shared_fs = server.shared_fs, fake
    port = port or _free_port(host)
    uv = uvicorn.Server(uvicorn.Config(server.app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, name="fakesnow", daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while not uv.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the Snowflake emulator did not start on {host}:{port}")
            time.sleep(0.05)
        _running = Emulator(host, port)
        yield _running
    finally:
        _running = None
        uv.should_exit = True
        thread.join(timeout=30)
        # Release the files, so a later emulator (in this process or another) can open them.
        server.sessions.clear()
        server.shared_fs = previous
        fake.duck_conn.close()
