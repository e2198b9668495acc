"""Stored /api/query responses: reused while nothing they read changed, never stale, never shared
across what they must not be."""

from __future__ import annotations

import uuid

import httpx


def hits(server) -> int:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith("convexpy_query_cache_hits_total "):
            return int(line.split()[1])
    raise AssertionError("no convexpy_query_cache_hits_total in /metrics")


def latest(server, channel: str):
    return server.post("/api/query", {"path": "messages:latest", "args": {"channel": channel}, "format": "json"}).json()


def send(server, channel: str, body: str) -> None:
    response = server.post("/api/mutation", {"path": "messages:send", "args": {"channel": channel, "body": body, "n": 1}})
    assert response.json()["status"] == "success"


def test_a_repeated_query_is_answered_from_the_cache_until_a_write_touches_what_it_read(server):
    mine, other = uuid.uuid4().hex, uuid.uuid4().hex
    send(server, mine, "first")
    first = latest(server, mine)
    assert first["value"]["body"] == "first"
    before = hits(server)
    assert latest(server, mine) == first
    assert hits(server) == before + 1
    send(server, other, "elsewhere")  # outside what the query read: still reused
    assert latest(server, mine) == first
    assert hits(server) == before + 2
    send(server, mine, "second")  # inside it: the next answer is the new state, computed again
    assert latest(server, mine)["value"]["body"] == "second"
    assert hits(server) == before + 2
    assert latest(server, mine)["value"]["body"] == "second"
    assert hits(server) == before + 3


def test_the_official_client_reads_its_own_writes_through_the_cache(server):
    mine = uuid.uuid4().hex
    calls = []
    for n in range(5):
        calls += [{"op": "mutation", "path": "messages:send", "args": {"channel": mine, "body": f"m{n}", "n": n}},
                  {"op": "query", "path": "messages:latest", "args": {"channel": mine}},
                  {"op": "query", "path": "messages:latest", "args": {"channel": mine}}]
    results = server.js(calls)
    bodies = [result["value"]["body"] for result in results[1::3] + results[2::3]]
    assert bodies == [f"m{n}" for n in range(5)] * 2


def test_queries_that_print_or_read_auth_or_differ_in_format_are_not_shared(server):
    before = hits(server)
    for _ in range(3):
        assert server.post("/api/query", {"path": "errors:logs", "args": {}}).json()["logLines"]
    assert server.post("/api/query", {"path": "admin:whoami", "args": {}}).json()["value"] is None
    assert server.post("/api/query", {"path": "admin:whoami", "args": {}}).json()["value"] is None
    assert hits(server) == before
    channel = uuid.uuid4().hex
    send(server, channel, "x")
    clean = server.post("/api/query", {"path": "messages:latest", "args": {"channel": channel}, "format": "json"}).json()
    encoded = server.post("/api/query", {"path": "messages:latest", "args": {"channel": channel}, "format": "convex_encoded_json"}).json()
    assert clean["value"]["body"] == encoded["value"]["body"] == "x"
    assert hits(server) == before  # a different format is a different response
    internal = server.post("/api/query", {"path": "admin:secret", "args": {}}, headers={"authorization": f"Convex {server.admin_key}"}).json()
    assert internal["value"] == "internal value"
    anonymous = server.post("/api/query", {"path": "admin:secret", "args": {}}).json()
    assert anonymous["status"] == "error"  # the admin's stored answer is not the anonymous caller's
