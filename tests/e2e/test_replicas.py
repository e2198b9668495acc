"""Three replicas on one PostgreSQL: serializable together, and each sees the others' commits."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .conftest import FUNCTIONS, _start
from .wire import WireClient


@pytest.fixture(scope="module")
def replicas(server_database, tmp_path_factory):
    data = tmp_path_factory.mktemp("replicas")  # one data folder: one instance secret, one admin key
    started = [_start(server_database, data, FUNCTIONS) for _ in range(3)]
    yield started
    for replica in started:
        replica.process.terminate()
        replica.process.wait(timeout=15)
        replica.process.stdout.close()


def test_transfers_spread_over_three_replicas(replicas, js_installed):
    prefix = "rep-" + uuid.uuid4().hex[:6]
    ids = [replicas[i % 3].js_one("mutation", "accounts:create", {"name": f"{prefix}-{i}", "balance": 500.0})["value"]
           for i in range(5)]

    def worker(w: int) -> list[tuple[str, dict]]:
        calls, tids = [], []
        for n in range(50):
            source, target = ids[(w + n) % 5], ids[(w + 2 * n + 1) % 5]
            if source == target:
                target = ids[(ids.index(source) + 1) % 5]
            tid = f"{prefix}-{w}-{n}"
            tids.append(tid)
            calls.append({"op": "mutation", "path": "accounts:transferLogged", "skipQueue": True,
                          "args": {"from_id": source, "to_id": target, "amount": 1.0, "tid": tid}})
        # Ten at a time per worker: twenty in flight per replica, contended on five accounts across
        # replicas, without queueing past the mutation slots (that answers Overloaded, by design).
        batches = [{"op": "parallel", "calls": calls[i:i + 10]} for i in range(0, len(calls), 10)]
        results = [result for batch in replicas[w % 3].js(batches) for result in batch["value"]]
        return list(zip(tids, results))

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = [item for chunk in pool.map(worker, range(6)) for item in chunk]

    applied = Counter(tid for tid in replicas[2].js_one("query", "accounts:transferIds")["value"] if tid.startswith(prefix))
    for tid, result in outcomes:
        if result["ok"]:
            assert applied[tid] == 1, f"{tid} acknowledged but applied {applied[tid]} times"
        else:
            assert applied[tid] == 0 and result["message"], f"{tid} failed but was applied"
    failures = Counter(result.get("message", "")[:200] for _, result in outcomes if not result["ok"])
    assert not failures, failures  # retries absorb every conflict
    balances = [replicas[1].js_one("query", "accounts:byName", {"name": f"{prefix}-{i}"})["value"]["balance"] for i in range(5)]
    assert sum(balances) == 2500.0


def test_subscription_on_one_replica_sees_commit_on_another(replicas):
    channel = "x" + uuid.uuid4().hex[:8]
    watcher = WireClient(replicas[0].url)
    try:
        watcher.connect()
        watcher.modify(watcher.add(0, "messages:byRange", {"channel": channel}))
        watcher.recv_modification(0)
        replicas[1].post("/api/mutation", {"path": "messages:send", "args": {"channel": channel, "body": "b", "n": 1}})
        _, update = watcher.recv_modification(0, timeout=10)
        assert update["value"] == [1.0]
    finally:
        watcher.close()


def test_reading_on_a_third_replica_at_the_mutation_ts(replicas):
    channel = "y" + uuid.uuid4().hex[:8]
    writer = WireClient(replicas[0].url)
    try:
        writer.connect()
        writer.mutation("messages:send", {"channel": channel, "body": "a", "n": 7.0})
        ts = writer.recv_type("MutationResponse")["ts"]
    finally:
        writer.close()
    body = replicas[2].post("/api/query_at_ts", {"path": "messages:byRange", "args": [{"channel": channel}], "ts": ts,
                                                 "format": "convex_encoded_json"}).json()
    assert body == {"status": "success", "value": [7.0]}
    # A socket client that has observed ts gets no older state from the third replica either.
    reader = WireClient(replicas[2].url)
    try:
        reader.connect(maxObservedTimestamp=ts)
        reader.modify(reader.add(0, "messages:byRange", {"channel": channel}))
        assert reader.recv_modification(0)[1]["value"] == [7.0]
    finally:
        reader.close()


def test_replicas_report_ready(replicas):
    import httpx

    for replica in replicas:
        assert httpx.get(replica.url + "/health/live").status_code == 200
        assert httpx.get(replica.url + "/health/ready").text == "ready"


def test_a_query_on_one_replica_sees_a_mutation_acknowledged_by_another(replicas):
    """Read-your-writes across replicas over plain HTTP: no client-side timestamp involved."""
    channel = "ryw" + uuid.uuid4().hex[:8]
    misses = 0
    with httpx.Client(timeout=30) as http:
        for n in range(100):
            writer, reader = replicas[n % 3], replicas[(n + 1) % 3]
            sent = http.post(writer.url + "/api/mutation", json={"path": "messages:send", "args": {"channel": channel, "body": "x", "n": n}})
            assert sent.json()["status"] == "success", sent.text
            seen = http.post(reader.url + "/api/query", json={"path": "messages:byRange", "args": {"channel": channel}}).json()
            misses += n not in seen["value"]
    assert misses == 0
