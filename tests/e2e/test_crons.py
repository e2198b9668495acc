"""Crons from a functions folder's crons.py: registered at start, run on their interval (mutations and
actions), failures recorded, never doubled up by two replicas, and after downtime the overdue run
happens once instead of a burst of the missed ones."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from .conftest import _start, free_port

CRONS = Path(__file__).resolve().parent / "cron_functions"


def query(url: str, path: str, args: dict | None = None):
    body = httpx.post(url + "/api/query", json={"path": path, "args": args or {}}).json()
    assert body["status"] == "success", body
    return body["value"]


def wait_for(check, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def gaps_ms(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [later - earlier for earlier, later in zip(ordered, ordered[1:])]


def test_crons_py_registers_runs_and_records(fresh_database, tmp_path):
    server = _start(fresh_database, tmp_path / "data", CRONS)
    try:
        assert query(server.url, "ticks:registered") == [
            ["action every 2 s", "interval"], ["digest", "daily"], ["every second", "interval"], ["failing", "interval"]]
        assert wait_for(lambda: len(query(server.url, "ticks:times", {"cron": "every second"})) >= 3)
        assert wait_for(lambda: len(query(server.url, "ticks:times", {"cron": "action"})) >= 2)
        failed = wait_for(lambda: query(server.url, "ticks:lastRun", {"name": "failing"}))
        assert failed["status"] == "err" and "this cron always fails" in failed["error"]
        assert query(server.url, "ticks:times", {"cron": "digest"}) == []  # 07:30 UTC, not at registration
        assert min(gaps_ms(query(server.url, "ticks:times", {"cron": "every second"}))) > 500  # one run per tick
    finally:
        server.stop()


def test_two_replicas_never_double_a_tick_and_downtime_is_caught_up_once(fresh_database, tmp_path):
    data = tmp_path / "data"
    port, site = free_port(), free_port()
    first = _start(fresh_database, data, CRONS, port, site)
    second = _start(fresh_database, data, CRONS)
    try:
        assert wait_for(lambda: len(query(first.url, "ticks:times", {"cron": "every second"})) >= 5)
        assert min(gaps_ms(query(first.url, "ticks:times", {"cron": "every second"}))) > 500  # never both replicas
        before = len(query(first.url, "ticks:times", {"cron": "every second"}))
        for replica in (second, first):
            replica.process.send_signal(signal.SIGKILL)
            replica.process.wait()
            replica.process.stdout.close()
        time.sleep(4.0)  # four ticks missed
        first = _start(fresh_database, data, CRONS, port, site)
        time.sleep(1.5)
        after = sorted(query(first.url, "ticks:times", {"cron": "every second"}))
        # The overdue run once, late, then on its schedule (which may be soon after): never the missed four.
        assert 1 <= len(after) - before <= 3
    finally:
        first.stop()
        second.stop()

