"""A real ``convexpy serve`` process, and the official clients pointed at it.

The server runs the test app in ``tests/e2e/functions`` on free ports, against
a fresh database on the session's PostgreSQL. Tests talk to it only as users
do: the npm ``ConvexHttpClient`` (through ``tests/js/driver.mjs``), the PyPI
``ConvexHttpClient``, and raw HTTP for malformed requests.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ..conftest import REPO_ROOT, create_database

JS_DIR = REPO_ROOT / "tests" / "js"
FUNCTIONS = Path(__file__).resolve().parent / "functions"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    site_url: str
    admin_key: str
    process: subprocess.Popen
    output: collections.deque = field(default_factory=lambda: collections.deque(maxlen=5000))
    """The server's latest output lines (stdout and stderr), kept while it runs."""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; the output pipe is closed either way."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()

    def js(self, calls: list[dict]) -> list[dict]:
        """Run calls through the official npm ConvexHttpClient."""
        completed = subprocess.run(
            ["node", str(JS_DIR / "driver.mjs"), self.url],
            input=json.dumps(calls),
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    def js_one(self, op: str, path: str, args: dict | None = None, **extra) -> dict:
        return self.js([{"op": op, "path": path, "args": args or {}, **extra}])[0]

    def post(self, route: str, body: object = None, *, headers: dict | None = None, content: bytes | None = None) -> httpx.Response:
        all_headers = {"content-type": "application/json", **(headers or {})}
        data = content if content is not None else json.dumps(body).encode()
        return httpx.post(self.url + route, content=data, headers=all_headers, timeout=60)


def _start(
    database_url: str | None, data_dir: Path, functions: Path, port: int | None = None, site_port: int | None = None, *extra: str,
    command: str = "serve",
) -> RunningServer:
    """Start ``convexpy serve`` (or ``command``: ``dev``) on the embedded PostgreSQL in ``data_dir`` if
    ``database_url`` is None."""
    port, site_port = port or free_port(), site_port or free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    database = ["--database-url", database_url] if database_url is not None else []
    process = subprocess.Popen(
        [sys.executable, "-m", "convexpy", command, "--functions", str(functions), "--port", str(port),
         "--site-port", str(site_port), "--data-dir", str(data_dir), *database,
         "--host", "127.0.0.1", "--log-level", "warning", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    admin_key = None
    startup: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited with {process.wait()}: {''.join(startup[-20:])}")
        startup.append(line)
        if "Admin key:" in line:
            admin_key = line.split("Admin key:")[1].strip()
            break
    assert admin_key, "server did not print its admin key"
    url = f"http://127.0.0.1:{port}"
    running = RunningServer(url, f"http://127.0.0.1:{site_port}", admin_key, process)
    running.output.extend(startup)
    def drain() -> None:
        """Keep reading the server's output so a chatty server never blocks on a full pipe."""
        try:
            for line in process.stdout:
                running.output.append(line)
        except ValueError:
            pass  # a test closed the pipe (after killing the server)

    threading.Thread(target=drain, daemon=True).start()
    httpx.get(url + "/version", timeout=10).raise_for_status()
    return running


@pytest.fixture(scope="session")
async def server_database(pg_server_url: str):
    """One database for the session's shared server (and the replicas module)."""
    return await create_database(pg_server_url, "cxe2e_")


@pytest.fixture(scope="session")
def server(server_database: str, tmp_path_factory: pytest.TempPathFactory):
    running = _start(server_database, tmp_path_factory.mktemp("server-data"), FUNCTIONS)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def js_installed() -> None:
    assert (JS_DIR / "node_modules" / "convex").exists(), "run `npm ci` in tests/js (scripts/test does it)"


@pytest.fixture
def js(server: RunningServer, js_installed: None) -> RunningServer:
    return server


@pytest.fixture
def live(server: RunningServer, js_installed: None):
    """An official npm ConvexClient (over WebSocket) connected to the shared server."""
    from .live import LiveJsClient

    client = LiveJsClient(server.url)
    yield client
    client.close()


@pytest.fixture
def py_client(server: RunningServer):
    from convex.http_client import ConvexHttpClient

    return ConvexHttpClient(server.url)
