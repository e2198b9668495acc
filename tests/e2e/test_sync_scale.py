"""1,000 live subscriptions on one server: a commit re-runs and pushes exactly the ones it touches."""

from __future__ import annotations

import uuid

import httpx

from .wire import WireClient

SOCKETS = 10
PER_SOCKET = 100


def query_runs(server) -> int:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith("convexpy_sync_query_runs_total "):
            return int(float(line.split()[1]))
    raise AssertionError("metric missing")


def test_thousand_subscriptions_exact_invalidation(server):
    prefix = "k" + uuid.uuid4().hex[:6]
    clients = [WireClient(server.url) for _ in range(SOCKETS)]
    try:
        for s, client in enumerate(clients):
            client.connect()
            client.modify(*(client.add(q, "messages:byRange", {"channel": f"{prefix}-{s * PER_SOCKET + q}"}) for q in range(PER_SOCKET)))
        for client in clients:
            assert len(client.recv_type("Transition")["modifications"]) == PER_SOCKET
        assert 'convexpy_sync_subscriptions' in httpx.get(server.url + "/metrics").text

        touched = {n for n in range(SOCKETS * PER_SOCKET) if n % 7 == 3}
        runs_before = query_runs(server)
        response = server.post("/api/mutation", {"path": "messages:sendToChannels",
                                                 "args": {"channels": [f"{prefix}-{n}" for n in sorted(touched)], "n": 1}})
        assert response.json()["status"] == "success"

        pushed: set[int] = set()
        for s, client in enumerate(clients):
            expected = {n % PER_SOCKET for n in touched if n // PER_SOCKET == s}
            seen: set[int] = set()
            while seen != expected:
                transition = client.recv_type("Transition")
                for modification in transition["modifications"]:
                    assert modification["value"] == [1.0]
                    seen.add(modification["queryId"])
                assert seen <= expected, f"socket {s} got updates for untouched queries {seen - expected}"
            pushed |= {s * PER_SOCKET + q for q in seen}
        assert pushed == touched
        assert query_runs(server) - runs_before == len(touched)
    finally:
        for client in clients:
            client.close()
