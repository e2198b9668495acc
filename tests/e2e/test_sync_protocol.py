"""The sync protocol on the wire: message shapes, version chaining, ordering, de-duplication,
and the answers to bad frames (which never affect other sessions)."""

from __future__ import annotations

import base64
import struct
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from .wire import ZERO_TS, WireClient


def ts_value(text: str) -> int:
    return struct.unpack("<Q", base64.b64decode(text))[0]


@pytest.fixture
def wire(server):
    client = WireClient(server.url)
    yield client
    client.close()


def channel() -> str:
    return "w" + uuid.uuid4().hex[:10]


def test_first_transition_and_chaining(wire, server):
    ch = channel()
    wire.connect()
    wire.modify(wire.add(0, "messages:byRange", {"channel": ch}), wire.add(1, "errors:boom"))
    first = wire.recv_type("Transition")
    assert first["startVersion"] == {"querySet": 0, "identity": 0, "ts": ZERO_TS}
    assert first["endVersion"]["querySet"] == 1 and first["endVersion"]["identity"] == 0
    assert isinstance(first["serverTs"], int)
    by_id = {m["queryId"]: m for m in first["modifications"]}
    assert by_id[0] == {"type": "QueryUpdated", "queryId": 0, "value": [], "logLines": [], "journal": None}
    assert by_id[1]["type"] == "QueryFailed" and "Uncaught ValueError: boom" in by_id[1]["errorMessage"]
    assert "errorData" not in by_id[1]

    request_id = wire.mutation("messages:send", {"channel": ch, "body": "x", "n": 1.0})
    messages = []
    while not (messages and messages[-1]["type"] == "Transition" and any(m["type"] == "MutationResponse" for m in messages)):
        messages.append(wire.recv())
    response = next(m for m in messages if m["type"] == "MutationResponse")
    assert response["requestId"] == request_id and response["success"] is True and response["logLines"] == []
    # The Transition right after the response covers the mutation's commit ts, so it shows the write.
    assert ts_value(messages[-1]["endVersion"]["ts"]) >= ts_value(response["ts"])
    updates = [m for t in messages if t["type"] == "Transition" for m in t["modifications"]]
    assert updates == [{"type": "QueryUpdated", "queryId": 0, "value": [1.0], "logLines": [], "journal": None}]

    wire.modify({"type": "Remove", "queryId": 0})
    _, removed = wire.recv_modification(0)
    assert removed == {"type": "QueryRemoved", "queryId": 0}


def test_unrelated_write_is_not_pushed_and_queries_update_together(wire, server):
    mine, other = channel(), channel()
    wire.connect()
    wire.modify(wire.add(0, "messages:byRange", {"channel": mine}), wire.add(1, "messages:latest", {"channel": mine}))
    wire.recv_type("Transition")
    server.post("/api/mutation", {"path": "messages:send", "args": {"channel": other, "body": "b", "n": 1}})
    server.post("/api/mutation", {"path": "messages:send", "args": {"channel": mine, "body": "a", "n": 2}})
    update, _ = wire.recv_modification(0)
    assert sorted(m["queryId"] for m in update["modifications"]) == [0, 1]  # one Transition, one ts, both queries
    assert update["modifications"][0]["value"] == [2.0]
    assert update["modifications"][1]["value"]["body"] == "a"


def test_mutation_dedup_by_session_and_request_id(server):
    tag = channel()
    session_id = str(uuid.uuid4())
    first = WireClient(server.url)
    first.session_id = session_id
    first.connect()
    first.mutation("errors:insertItem", {"doc": {"tag": tag, "rank": 1}}, request_id=7)
    original = first.recv_type("MutationResponse")
    first.close()

    again = WireClient(server.url)
    again.session_id = session_id
    again.connect(connectionCount=1, lastCloseReason="OnCloseInvoked")  # as the clients reconnect
    again.modify()
    again.recv_type("Transition")
    again.mutation("errors:insertItem", {"doc": {"tag": tag, "rank": 1}}, request_id=7)
    replayed = again.recv_type("MutationResponse")
    again.close()
    assert replayed["result"] == original["result"] and replayed["ts"] == original["ts"]
    assert server.post("/api/query", {"path": "errors:countTag", "args": {"tag": tag}}).json()["value"] == 1


def test_failed_mutation_response(wire):
    wire.connect()
    wire.mutation("errors:convexError", {"data": {"code": 7}})
    response = wire.recv_type("MutationResponse")
    assert response["success"] is False and response["ts"] is None
    assert isinstance(response["result"], str) and "Uncaught ConvexError" in response["result"]
    assert response["errorData"] == {"code": 7.0}
    assert wire.recv()["type"] == "Transition"


def test_action_response_has_no_ts(wire):
    wire.connect()
    wire.send({"type": "Action", "requestId": 0, "udfPath": "admin:callSecret", "args": [{}]})
    response = wire.recv_type("ActionResponse")
    assert response == {"type": "ActionResponse", "requestId": 0, "success": True, "result": "internal value", "logLines": []}


def test_admin_authenticate_bumps_identity_and_reaches_internal(wire, server):
    wire.connect()
    wire.modify(wire.add(0, "admin:secret"))
    assert wire.recv_type("Transition")["modifications"][0]["type"] == "QueryFailed"
    wire.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": server.admin_key,
               "impersonating": {"issuer": "https://issuer.example", "subject": "u7"}})
    transition = wire.recv_type("Transition")
    assert transition["endVersion"]["identity"] == 1 > transition["startVersion"]["identity"]
    assert transition["modifications"][0]["value"] == "internal value"
    wire.modify(wire.add(1, "admin:whoami"))
    assert wire.recv_type("Transition")["modifications"][0]["value"]["tokenIdentifier"] == "https://issuer.example|u7"


def test_bad_admin_key_gets_auth_error_and_close(wire):
    wire.connect()
    wire.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": "convex-self-hosted|01bad"})
    error = wire.recv_type("AuthError")
    assert error == {"type": "AuthError", "error": "The provided admin key was invalid for this instance",
                     "baseVersion": 0, "authUpdateAttempted": True}
    with pytest.raises(ConnectionClosed):
        wire.recv(timeout=5)


def test_user_jwt_without_providers_is_refused(wire):
    wire.connect()
    wire.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": "eyJ.x.y"})
    assert wire.recv_type("AuthError")["authUpdateAttempted"] is True


@pytest.mark.parametrize(
    "frame,expected",
    [
        ("{not json", "FatalError"),
        ('{"type": "Teleport"}', "FatalError"),
        ('{"type": "ModifyQuerySet", "baseVersion": 5, "newVersion": 6, "modifications": []}', "FatalError"),
        (b"\x00\x01binary", "close"),
        ('{"type": "Authenticate", "baseVersion": 3, "tokenType": "None"}', "close"),
    ],
)
def test_bad_frames_end_only_their_own_session(server, frame, expected):
    bystander = WireClient(server.url)
    bystander.connect()
    bystander.modify(bystander.add(0, "accounts:total"))
    bystander.recv_type("Transition")

    bad = WireClient(server.url)
    bad.connect()
    bad.ws.send(frame)
    if expected == "FatalError":
        assert bad.recv_type("FatalError")["error"]
    with pytest.raises(ConnectionClosed):
        bad.recv(timeout=5)

    bystander.modify(bystander.add(1, "accounts:total"))
    assert bystander.recv_type("Transition")["modifications"][0]["queryId"] == 1
    bystander.close()


def test_both_endpoints_and_double_slash(server):
    for path in ("/api/sync", "//api/1.48.0/sync"):
        client = WireClient(server.url, path)
        client.connect()
        client.modify()
        assert client.recv_type("Transition")["endVersion"]["querySet"] == 1
        client.close()


def test_paginated_subscription_keeps_its_page(wire, server):
    ch = channel()
    server.post("/api/mutation", {"path": "messages:sendMany", "args": {"channel": ch, "count": 5}})
    wire.connect()
    wire.modify(wire.add(0, "messages:page", {"channel": ch, "paginationOpts": {"numItems": 3, "cursor": None}}))
    _, first = wire.recv_modification(0)
    assert first["value"]["page"] == [0.0, 1.0, 2.0] and isinstance(first["journal"], str)
    # A new message inside the page's range (n=1.5) joins the page; the page does not shift.
    server.post("/api/mutation", {"path": "messages:send", "args": {"channel": ch, "body": "mid", "n": 1.5}})
    _, update = wire.recv_modification(0)
    assert update["value"]["page"] == [0.0, 1.0, 1.5, 2.0]
    assert update["journal"] == first["journal"]


def test_admin_results_are_not_shared_with_anonymous_clients(server):
    admin, anonymous = WireClient(server.url), WireClient(server.url)
    admin.connect()
    admin.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": server.admin_key})
    admin.modify(admin.add(0, "admin:secret"))
    _, seen_by_admin = admin.recv_modification(0)
    anonymous.connect()
    anonymous.modify(anonymous.add(0, "admin:secret"))
    _, seen_by_anonymous = anonymous.recv_modification(0)
    assert seen_by_admin["value"] == "internal value"
    assert seen_by_anonymous["type"] == "QueryFailed"
    assert "Could not find public function for 'admin:secret'." in seen_by_anonymous["errorMessage"]
    admin.close()
    anonymous.close()


def test_a_stored_mutation_outcome_is_only_replayed_to_its_own_caller(server):
    session_id = str(uuid.uuid4())
    admin = WireClient(server.url)
    admin.session_id = session_id
    admin.connect()
    admin.send({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": server.admin_key})
    admin.mutation("errors:insertItem", {"doc": {"tag": channel(), "rank": 1}}, request_id=0)
    original = admin.recv_type("MutationResponse")
    assert original["success"], original
    admin.close()

    stranger = WireClient(server.url)  # knows the session id, but is not the admin
    stranger.session_id = session_id
    stranger.connect(connectionCount=1, lastCloseReason="OnCloseInvoked")
    stranger.mutation("errors:insertItem", {"doc": {"tag": channel(), "rank": 1}}, request_id=0)
    replayed = stranger.recv_type("MutationResponse")
    stranger.close()
    assert replayed["success"] is False
    assert original["result"] not in replayed["result"]
    assert f"Mutation request 0 of session {session_id} was already applied" in replayed["result"]


def test_too_many_queries_in_one_session_is_a_fatal_error(wire):
    wire.connect()
    wire.modify(*(wire.add(query_id, "messages:byRange", {"channel": "q"}) for query_id in range(1001)))
    error = wire.recv_type("FatalError")
    assert error["error"] == "Too many queries in one session (limit: 1000); remove some before adding more"


def test_socket_error_messages_are_cut_to_64_kib(wire):
    wire.connect()
    wire.mutation("errors:throwLong", {"length": 500_000})
    response = wire.recv_type("MutationResponse")
    assert response["success"] is False
    assert response["result"].startswith("[Request ID: ")
    assert 60 * 1024 < len(response["result"]) <= 64 * 1024


def test_clients_that_close_right_after_a_mutation_leave_the_server_committing(server):
    for attempt in range(30):
        gone = WireClient(server.url)
        gone.connect()
        gone.mutation("errors:insertItem", {"doc": {"tag": channel(), "rank": float(attempt)}})
        gone.close()  # at once: the server's wait for this commit is cancelled
    tag = channel()
    response = server.post("/api/mutation", {"path": "errors:insertItem", "args": {"doc": {"tag": tag, "rank": 1}}})
    assert response.json()["status"] == "success"
    assert server.post("/api/query", {"path": "errors:countTag", "args": {"tag": tag}}).json()["value"] == 1
    assert httpx.get(server.url + "/health/ready", timeout=10).status_code == 200
