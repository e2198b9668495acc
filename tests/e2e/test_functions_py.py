"""The official PyPI ConvexHttpClient against a running server."""

from __future__ import annotations

import math
import uuid

import pytest
from convex import ConvexError, ConvexInt64
from convex.http_client import ConvexExecutionError


def test_query_and_mutation(py_client):
    name = "py" + uuid.uuid4().hex[:8]
    doc_id = py_client.mutation("accounts:create", {"name": name, "balance": 7})
    found = py_client.query("accounts:byName", {"name": name})
    assert found["_id"] == doc_id
    assert found["balance"] == 7.0 and isinstance(found["balance"], float)


def test_values_roundtrip(py_client):
    value = {
        "int": ConvexInt64(-(2**63)),
        "bytes": b"\x00\x01\xfe",
        "nan": math.nan,
        "inf": -math.inf,
        "negzero": -0.0,
        "text": "z\u00fcrich \U0001f600",
        "nested": [[1.5, None], {"deep": {"deeper": [True]}}],
    }
    stored = py_client.mutation("values:store", {"value": value})
    assert stored["int"] == ConvexInt64(-(2**63))
    assert stored["bytes"] == b"\x00\x01\xfe"
    assert math.isnan(stored["nan"]) and stored["inf"] == -math.inf
    assert math.copysign(1, stored["negzero"]) == -1
    assert stored["text"] == value["text"] and stored["nested"] == value["nested"]


def test_server_made_values(py_client):
    made = py_client.query("values:make")
    assert made["int"] == ConvexInt64(-(2**63)) and made["big"] == ConvexInt64(2**63 - 1)
    assert made["whole"] == 3.0 and isinstance(made["whole"], float)
    assert made["bytes"] == b"\x00\xff" and made["none"] is None


def test_convex_error_and_execution_error(py_client):
    with pytest.raises(ConvexError) as raised:
        py_client.mutation("errors:convexError", {"data": {"code": "E1"}})
    assert raised.value.data == {"code": "E1"}
    with pytest.raises(ConvexError) as raised:
        py_client.mutation("errors:convexError", {"data": "plain message"})
    assert raised.value.data == "plain message"
    with pytest.raises(ConvexExecutionError, match="Uncaught ValueError: boom"):
        py_client.query("errors:boom")


def test_admin_auth_reaches_internal_functions(py_client, server):
    with pytest.raises(ConvexExecutionError, match="Could not find public function for 'admin:secret'"):
        py_client.query("admin:secret")
    py_client.set_admin_auth(server.admin_key)
    assert py_client.query("admin:secret") == "internal value"


def test_bad_admin_key_is_a_401(py_client):
    py_client.set_admin_auth("convex-self-hosted|01deadbeef")
    with pytest.raises(Exception, match="401 BadAdminKey: The provided admin key was invalid for this instance"):
        py_client.query("admin:secret")


def test_log_lines_are_returned(server):
    response = server.post("/api/query", {"path": "errors:logs", "args": {}, "format": "convex_encoded_json"})
    assert response.json() == {"status": "success", "value": "logged", "logLines": ["[LOG] 'hello' 42 {\n  a: 1\n}"]}


def test_action(py_client):
    assert py_client.action("actions:sendAndCount", {"channel": "py" + uuid.uuid4().hex[:8]}) == 1.0
