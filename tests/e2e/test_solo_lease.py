"""The solo lease: a lone writer answers queries without reading the commit clock, gives the lease
up when another replica wants to commit, and loses it (without a wrong read) if it is paused."""

from __future__ import annotations

import re
import signal
import time
import uuid

import httpx
import pytest

from ..conftest import create_database
from .conftest import FUNCTIONS, _start


def metric(replica, name: str) -> float:
    text = httpx.get(replica.url + "/metrics", timeout=10).text
    return float(re.search(rf"^convexpy_{name} (\S+)$", text, re.M).group(1))


def wait_until(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def send(replica, channel: str, n: int) -> None:
    body = {"path": "messages:send", "args": {"channel": channel, "body": "x", "n": n}}
    assert httpx.post(replica.url + "/api/mutation", json=body, timeout=30).json()["status"] == "success"


def seen(replica, channel: str) -> list:
    body = {"path": "messages:byRange", "args": {"channel": channel}}
    return httpx.post(replica.url + "/api/query", json=body, timeout=30).json()["value"]


@pytest.fixture
async def lone_database(pg_server_url):
    return await create_database(pg_server_url, "cxsolo_")


def stop(replica) -> None:
    replica.process.send_signal(signal.SIGCONT)
    replica.stop()


def test_a_lone_writer_skips_the_clock_and_hands_over_when_another_commits(lone_database, tmp_path):
    first = _start(lone_database, tmp_path, FUNCTIONS)
    second = None
    try:
        wait_until(lambda: metric(first, "solo_lease") == 1)
        channel = "solo" + uuid.uuid4().hex[:8]
        send(first, channel, 1)
        reads = metric(first, "clock_reads_total")
        assert seen(first, channel) == [1]
        assert metric(first, "clock_reads_total") == reads  # solo: no clock read for a query

        second = _start(lone_database, tmp_path, FUNCTIONS)
        send(second, channel, 2)  # waits for the lone writer to step down, then commits
        assert metric(first, "solo_lease") == 0
        assert seen(first, channel) == [1, 2]
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_a_paused_lone_writer_is_evicted_and_reads_the_clock_when_it_resumes(lone_database, tmp_path):
    first = _start(lone_database, tmp_path, FUNCTIONS)
    second = _start(lone_database, tmp_path, FUNCTIONS)
    try:
        wait_until(lambda: metric(first, "solo_lease") == 1 or metric(second, "solo_lease") == 1)
        solo, other = (first, second) if metric(first, "solo_lease") == 1 else (second, first)
        channel = "paused" + uuid.uuid4().hex[:8]
        solo.process.send_signal(signal.SIGSTOP)
        send(other, channel, 1)  # the paused holder cannot step down: its lease session is ended
        solo.process.send_signal(signal.SIGCONT)
        assert seen(solo, channel) == [1]
    finally:
        stop(first)
        stop(second)
