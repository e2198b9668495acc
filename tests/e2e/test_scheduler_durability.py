"""Scheduled jobs survive the server: one scheduled before a `kill -9` runs after the restart, exactly
once; with two replicas, each of 300 jobs runs exactly once while one replica is killed and restarted
twice."""

from __future__ import annotations

import signal
import time
from collections import Counter

import httpx

from .conftest import FUNCTIONS, _start, free_port


def kill(server) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.process.stdout.close()


def marks(url: str, tag: str) -> list[str]:
    body = httpx.post(url + "/api/query", json={"path": "jobs:marks", "args": {"tag": tag}}).json()
    assert body["status"] == "success", body
    return body["value"]


def test_a_job_scheduled_before_a_kill_runs_after_the_restart_exactly_once(fresh_database, tmp_path):
    port, site = free_port(), free_port()
    server = _start(fresh_database, tmp_path / "data", FUNCTIONS, port, site)
    url = server.url
    body = httpx.post(url + "/api/mutation", json={"path": "jobs:scheduleMark", "args": {"tag": "crash", "delay": 1500}}).json()
    assert body["status"] == "success"
    kill(server)
    time.sleep(2.0)  # overdue by the time the server is back
    server = _start(fresh_database, tmp_path / "data", FUNCTIONS, port, site)
    try:
        deadline = time.monotonic() + 30
        while not marks(url, "crash") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        assert marks(url, "crash") == ["mutation"]
    finally:
        server.stop()


def test_two_replicas_run_each_of_300_jobs_exactly_once_while_one_is_killed_twice(fresh_database, tmp_path):
    data = tmp_path / "data"  # one data folder: one instance secret
    steady = _start(fresh_database, data, FUNCTIONS)
    port, site = free_port(), free_port()
    flaky = _start(fresh_database, data, FUNCTIONS, port, site)
    try:
        for batch in range(6):  # 50 jobs per mutation, due over the next three seconds
            args = {"tag": "replicas", "count": 50, "spreadMs": 60}
            target = steady if batch % 2 else flaky
            body = httpx.post(target.url + "/api/mutation", json={"path": "jobs:scheduleMany", "args": args}).json()
            assert body["status"] == "success", body
        for _ in range(2):  # while the jobs come due
            time.sleep(0.3)
            kill(flaky)
            flaky = _start(fresh_database, data, FUNCTIONS, port, site)
        deadline = time.monotonic() + 60
        while len(marks(steady.url, "replicas")) < 300 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        counts = Counter(marks(steady.url, "replicas"))
        assert sum(counts.values()) == 300 and set(counts.values()) == {6}  # each many-N once per batch: 6 batches
    finally:
        steady.stop()
        flaky.stop()


def test_an_action_cut_off_by_a_kill_is_marked_failed_and_never_run_again(fresh_database, tmp_path):
    port, site = free_port(), free_port()
    server = _start(fresh_database, tmp_path / "data", FUNCTIONS, port, site)
    url = server.url

    def job(job_id: str) -> dict:
        return httpx.post(url + "/api/query", json={"path": "jobs:job", "args": {"id": job_id}}).json()["value"]

    job_id = httpx.post(url + "/api/mutation", json={"path": "jobs:scheduleSlowAction", "args": {"seconds": 3}}).json()["value"]
    deadline = time.monotonic() + 20
    while job(job_id)["state"]["kind"] != "inProgress" and time.monotonic() < deadline:
        time.sleep(0.05)
    kill(server)
    server = _start(fresh_database, tmp_path / "data", FUNCTIONS, port, site)
    try:
        deadline = time.monotonic() + 30
        while job(job_id)["state"]["kind"] == "inProgress" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job(job_id)["state"] == {"kind": "failed", "error": "Transient error while executing action"}
        time.sleep(3.5)
        assert marks(url, "slow") == []  # at most once: it never ran again
    finally:
        server.stop()


def test_finished_jobs_are_deleted_after_the_retention(fresh_database, tmp_path):
    server = _start(fresh_database, tmp_path / "data", FUNCTIONS, None, None, "--scheduled-retention-s", "1")
    url = server.url
    try:
        job_id = httpx.post(url + "/api/mutation", json={"path": "jobs:scheduleMark", "args": {"tag": "kept", "delay": 0}}).json()["value"]
        deadline = time.monotonic() + 30
        while httpx.post(url + "/api/query", json={"path": "jobs:job", "args": {"id": job_id}}).json()["value"] is not None:
            assert time.monotonic() < deadline, "the finished job was never deleted"
            time.sleep(0.2)
        assert marks(url, "kept") == ["mutation"]  # its effect stays
    finally:
        server.stop()
