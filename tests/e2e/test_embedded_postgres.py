"""The embedded PostgreSQL is the server's to look after: restarted if it dies, stopped when the
server stops, even after an earlier server on the same data folder was killed with SIGKILL."""

from __future__ import annotations

import signal
import time
import uuid

import httpx
import psutil

from .conftest import FUNCTIONS, _start


def postmaster(data_dir) -> psutil.Process | None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        process = psutil.Process(int(pid_file.read_text().splitlines()[0]))
    except (psutil.Error, ValueError, IndexError):
        return None
    return process if process.is_running() and process.status() != psutil.STATUS_ZOMBIE else None


def wait_until(predicate, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def mutate(url: str, channel: str, n: int) -> httpx.Response:
    body = {"path": "messages:send", "args": {"channel": channel, "body": "x", "n": n}}
    return httpx.post(url + "/api/mutation", json=body, timeout=60)


def test_a_killed_embedded_postgres_is_restarted_and_nothing_acknowledged_is_lost(tmp_path):
    server = _start(None, tmp_path, FUNCTIONS)
    try:
        channel = "pg" + uuid.uuid4().hex[:8]
        assert mutate(server.url, channel, 1).json()["status"] == "success"
        postmaster(tmp_path).kill()

        during = mutate(server.url, channel, 2)  # either refused at once, or served by the restarted one
        if during.status_code != 200:
            assert during.status_code == 503, during.text
            assert "Nothing was applied" in during.json()["message"]
        wait_until(lambda: httpx.get(server.url + "/health/ready", timeout=10).status_code == 200)
        assert httpx.get(server.url + "/health/live", timeout=10).status_code == 200
        assert mutate(server.url, channel, 3).json()["status"] == "success"
        seen = httpx.post(server.url + "/api/query", json={"path": "messages:byRange", "args": {"channel": channel}}, timeout=30)
        values = seen.json()["value"]
        assert 1 in values and 3 in values and (2 in values) == (during.status_code == 200)
    finally:
        server.stop()


def test_a_clean_stop_after_an_earlier_sigkill_stops_the_embedded_postgres(tmp_path):
    first = _start(None, tmp_path, FUNCTIONS)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=15)
    first.process.stdout.close()
    assert postmaster(tmp_path) is not None  # orphaned, still running

    second = _start(None, tmp_path, FUNCTIONS)
    assert httpx.get(second.url + "/version", timeout=10).status_code == 200
    second.stop()
    assert second.process.returncode == 0
    wait_until(lambda: postmaster(tmp_path) is None, timeout_s=30)
