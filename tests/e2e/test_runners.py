"""User code in runner processes (--runners): a runaway function fails with the timeout error
while everything else is served, commits nothing, and a runner that dies is replaced unseen."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import httpx
import pytest
from convex.http_client import ConvexHttpClient

from .conftest import FUNCTIONS, _start


@pytest.fixture(scope="module")
def runners(server_database, tmp_path_factory):
    running = _start(server_database, tmp_path_factory.mktemp("runners"), FUNCTIONS, None, None, "--runners", "2")
    yield running
    running.stop()


def test_a_spinning_query_times_out_while_other_requests_are_served(runners):
    client = ConvexHttpClient(runners.url)

    def spin():
        try:
            client.query("runaway:spin", {"seconds": 5})
        except Exception as error:  # noqa: BLE001 - the client's error is what we check
            return str(error)
        return "finished"

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        spinning = pool.submit(spin)
        answered = 0
        while not spinning.done():
            assert httpx.get(runners.url + "/version", timeout=5).status_code == 200
            assert client.query("messages:byRange", {"channel": "quiet"}) == []
            answered += 1
            time.sleep(0.05)
        assert "Function execution timed out (maximum duration: 1s)" in spinning.result()
    assert answered >= 3  # served throughout


def test_an_endless_mutation_fails_commits_nothing_and_the_next_request_succeeds(runners):
    client = ConvexHttpClient(runners.url)
    tag = "loop" + uuid.uuid4().hex[:8]
    with pytest.raises(Exception, match=r"Function execution timed out \(maximum duration: 1s\)"):
        client.mutation("runaway:loopForever", {"tag": tag})
    assert client.query("errors:countTag", {"tag": tag}) == 0
    client.mutation("errors:insertItem", {"doc": {"tag": tag, "rank": 1}})
    assert client.query("errors:countTag", {"tag": tag}) == 1


def test_a_runner_killed_mid_query_is_invisible_to_the_client(runners, tmp_path):
    marker = str(tmp_path / "died-once")
    assert ConvexHttpClient(runners.url).query("runaway:dieOnce", {"marker": marker}) == []


def test_a_runner_past_its_memory_limit_is_replaced(server_database, tmp_path):
    running = _start(server_database, tmp_path, FUNCTIONS, None, None, "--runners", "1", "--runner-memory-mb", "300")
    try:
        client = ConvexHttpClient(running.url)
        with pytest.raises(Exception, match="ran out of memory"):
            client.query("runaway:allocate", {"megabytes": 600})
        assert client.query("runaway:allocate", {"megabytes": 10}) == 10 * 1024 * 1024
    finally:
        running.stop()


def test_a_function_that_kills_every_runner_fails_clearly_instead_of_asking_for_retries(runners):
    failed = httpx.post(runners.url + "/api/query", json={"path": "runaway:dieAlways", "args": {}}, timeout=60)
    assert failed.status_code == 200 and failed.json()["status"] == "error"  # a function error, not a 503 to retry
    assert "stopped every time it ran it" in failed.json()["errorMessage"]
    tag = "die" + uuid.uuid4().hex[:8]
    failed = httpx.post(runners.url + "/api/mutation", json={"path": "runaway:insertThenDie", "args": {"tag": tag}}, timeout=60)
    assert failed.json()["status"] == "error" and "stopped every time it ran it" in failed.json()["errorMessage"]
    assert ConvexHttpClient(runners.url).query("errors:countTag", {"tag": tag}) == 0  # nothing committed
