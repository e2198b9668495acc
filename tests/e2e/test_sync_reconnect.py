"""Dropped sockets: both official clients reconnect, re-subscribe and get current results,
and a mutation in flight at the drop is applied exactly once."""

from __future__ import annotations

import time
import uuid

import pytest
from convex import ConvexClient

from ..proxy import CuttableProxy
from .live import LiveJsClient


@pytest.fixture
def proxy(server):
    port = int(server.url.rsplit(":", 1)[1])
    cuttable = CuttableProxy(port)
    yield cuttable
    cuttable.close()


def count_items(server, tag: str) -> float:
    return server.post("/api/query", {"path": "errors:countTag", "args": {"tag": tag}}).json()["value"]


def test_js_reconnects_and_applies_an_in_flight_mutation_once(server, proxy, js_installed):
    ch, tag = "r" + uuid.uuid4().hex[:8], "t" + uuid.uuid4().hex[:8]
    live = LiveJsClient(proxy.url)
    try:
        assert live.subscribe("s", "messages:byRange", {"channel": ch})["value"] == []
        live.send(cmd="mutation", req="slow", path="slow:insertAfter", args={"tag": tag, "delay_ms": 600.0})
        time.sleep(0.2)  # the server is running the mutation now
        proxy.cut()
        server.post("/api/mutation", {"path": "messages:send", "args": {"channel": ch, "body": "while away", "n": 1}})
        result = live.wait_for(lambda e: e.get("req") == "slow", timeout=30)
        assert result["ok"], result
        # Re-subscribed after the reconnect: the write made while away is already shown.
        assert result["seen"]["s"] == [1]
    finally:
        live.close()
    assert count_items(server, tag) == 1


def test_py_reconnects_resubscribes_and_applies_a_mutation_once(server, proxy):
    """The PyPI client (Rust core) fails requests made during an outage of more than about
    two seconds ("channel closed"), so this kills the socket while the server stays up."""
    ch, tag = "r" + uuid.uuid4().hex[:8], "t" + uuid.uuid4().hex[:8]
    client = ConvexClient(proxy.url)
    updates = iter(client.subscribe("messages:byRange", {"channel": ch}))
    assert next(updates) == []
    server.post("/api/mutation", {"path": "messages:send", "args": {"channel": ch, "body": "before", "n": 1}})
    assert next(updates) == [1.0]
    proxy.cut()
    server.post("/api/mutation", {"path": "messages:send", "args": {"channel": ch, "body": "while away", "n": 2}})
    client.mutation("errors:insertItem", {"doc": {"tag": tag, "rank": 1}})
    assert next(updates) == [1.0, 2.0]
    assert count_items(server, tag) == 1
