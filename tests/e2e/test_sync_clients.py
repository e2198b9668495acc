"""Realtime behaviour through the official clients: the npm ConvexClient (over ws) and the
PyPI ConvexClient (Rust core)."""

from __future__ import annotations

import threading
import uuid

import pytest
from convex import ConvexClient, ConvexError

from .live import LiveJsClient


def channel() -> str:
    return "s" + uuid.uuid4().hex[:10]


# --- npm ConvexClient --------------------------------------------------------------------


def test_js_initial_result_and_read_your_writes(live):
    ch = channel()
    assert live.subscribe("s", "messages:byRange", {"channel": ch})["value"] == []
    for n in range(3):
        result = live.call("mutation", "messages:send", {"channel": ch, "body": "x", "n": float(n)})
        assert result["ok"], result
        # When the mutation's promise resolves, the subscription already shows the write.
        assert result["seen"]["s"] == list(range(n + 1))


def test_js_sees_writes_from_http_and_other_clients(live, server):
    ch = channel()
    live.subscribe("s", "messages:byRange", {"channel": ch})
    server.post("/api/mutation", {"path": "messages:send", "args": {"channel": ch, "body": "http", "n": 1}})
    assert live.next_update("s")["value"] == [1]
    other = LiveJsClient(server.url)
    try:
        assert other.call("mutation", "messages:send", {"channel": ch, "body": "js", "n": 2.0})["ok"]
    finally:
        other.close()
    assert live.next_update("s", lambda value: 2 in value)["value"] == [1, 2]


def test_js_unrelated_write_does_not_resend(live, server):
    mine, other = channel(), channel()
    live.subscribe("s", "messages:byRange", {"channel": mine})
    for n in range(3):
        server.post("/api/mutation", {"path": "messages:send", "args": {"channel": other, "body": "o", "n": n}})
    server.post("/api/mutation", {"path": "messages:send", "args": {"channel": mine, "body": "m", "n": 9}})
    live.next_update("s", lambda value: value == [9])
    assert [update["value"] for update in live.updates("s")] == [[], [9]]


def test_js_failing_query_and_convex_error_data(live):
    error = live.subscribe("boom", "errors:boom")
    assert error["event"] == "error" and "Uncaught ValueError: boom" in error["message"]
    failed = live.call("mutation", "errors:convexError", {"data": {"code": "E9"}})
    assert failed["isConvexError"] and failed["data"] == {"code": "E9"}


def test_js_query_set_updates_consistently(live, server):
    prefix = "c-" + uuid.uuid4().hex[:6]
    a = live.call("mutation", "accounts:create", {"name": prefix + "a", "balance": 10.0})["value"]
    b = live.call("mutation", "accounts:create", {"name": prefix + "b", "balance": 10.0})["value"]
    live.subscribe("a", "accounts:byName", {"name": prefix + "a"})
    live.subscribe("b", "accounts:byName", {"name": prefix + "b"})
    result = live.call("mutation", "accounts:transfer", {"from_id": a, "to_id": b, "amount": 3.0})
    assert result["seen"]["a"]["balance"] == 7 and result["seen"]["b"]["balance"] == 13


def test_js_admin_auth_reaches_internal_functions(live, server):
    live.send(cmd="adminAuth", key=server.admin_key)
    assert live.call("query", "admin:secret") == {"event": "result", "req": "r0", "ok": True, "value": "internal value", "seen": {}}


# --- PyPI ConvexClient --------------------------------------------------------------------


@pytest.fixture
def py_live(server):
    client = ConvexClient(server.url)
    yield client
    client.close() if hasattr(client, "close") else None


def test_py_one_shot_calls_over_the_socket(py_live):
    ch = channel()
    assert py_live.query("messages:byRange", {"channel": ch}) == []
    py_live.mutation("messages:send", {"channel": ch, "body": "p", "n": 4})
    assert py_live.query("messages:byRange", {"channel": ch}) == [4.0]
    assert py_live.action("actions:sendAndCount", {"channel": ch}) == 2.0


def test_py_subscription_sees_http_writes(py_live, server):
    ch = channel()
    subscription = py_live.subscribe("messages:byRange", {"channel": ch})
    updates = iter(subscription)
    assert next(updates) == []
    server.post("/api/mutation", {"path": "messages:send", "args": {"channel": ch, "body": "h", "n": 5}})
    assert next(updates) == [5.0]
    py_live.mutation("messages:send", {"channel": ch, "body": "p", "n": 6})
    assert next(updates) == [5.0, 6.0]
    subscription.unsubscribe()


def test_py_errors(py_live):
    with pytest.raises(ConvexError) as raised:
        py_live.mutation("errors:convexError", {"data": {"code": "E5"}})
    assert raised.value.data == {"code": "E5"}
    with pytest.raises(Exception, match="Uncaught ValueError: boom"):
        py_live.query("errors:boom")


def test_py_admin_auth(py_live, server):
    with pytest.raises(Exception, match="Could not find public function"):
        py_live.query("admin:secret")
    py_live.set_admin_auth(server.admin_key)
    assert py_live.query("admin:secret") == "internal value"


def test_py_failing_subscription_raises_in_iteration(py_live):
    subscription = py_live.subscribe("errors:boom", {})
    errors = []

    def consume():
        try:
            next(iter(subscription))
        except Exception as exc:  # noqa: BLE001 - recording whatever the client raises
            errors.append(exc)

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(20)
    assert errors and "Uncaught ValueError: boom" in str(errors[0])
