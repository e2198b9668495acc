"""Clients that send too much, too deep, too slowly, or never read: each gets a prompt, clear
answer (or is dropped), nothing is rendered or kept without bound, and everyone else is served."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time

import httpx
import pytest

from .conftest import FUNCTIONS, _start


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_arguments_nested_too_deep_are_a_400_and_no_traceback(server):
    lines_before = len(server.output)
    response = server.post("/api/query", {"path": "values:echo", "args": {"value": nested(300)}})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "code": "BadJsonBody",
        "message": "Invalid arguments for values:echo: Value is too nested (nested 65 levels deep > maximum nesting 64)",
    }
    assert httpx.get(server.url + "/version", timeout=10).status_code == 200
    assert not any("Traceback" in line for line in list(server.output)[lines_before:])


def test_nesting_is_limited_to_64_levels_arguments_object_included(server):
    ok = server.post("/api/query", {"path": "values:echo", "args": {"value": nested(63)}})
    assert ok.json()["status"] == "success"
    refused = server.post("/api/query", {"path": "values:echo", "args": {"value": nested(64)}})
    assert refused.status_code == 400
    assert "nested 65 levels deep > maximum nesting 64" in refused.json()["message"]


def test_millions_of_positional_arguments_are_refused_with_a_short_message(server):
    response = server.post("/api/query", content=b'{"path":"values:echo","args":[' + b",".join([b"{}"] * 2_000_000) + b"]}")
    body = response.json()
    assert body["status"] == "error"
    assert "Expected to receive a single object as the function's argument. Instead received 2000000 arguments: [{}, {}" in body["errorMessage"]
    assert len(body["errorMessage"]) < 2000


def test_echo_endpoint_is_gone(server):
    assert server.post("/echo", content=b"x" * 1000).status_code == 404


# --- raw sockets ----------------------------------------------------------------------------


def ws_handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/1.48.0/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def ws_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    length = len(payload)
    header = bytes([0x81])
    if length < 126:
        header += bytes([0x80 | length])
    elif length < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", length)
    return header + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


@pytest.fixture
def small_outbox_server(server_database, tmp_path):
    running = _start(server_database, tmp_path, FUNCTIONS, None, None, "--session-outbox-mb", "1")
    yield running
    running.stop()


def test_a_sync_client_that_never_reads_is_dropped(small_outbox_server):
    port = int(small_outbox_server.url.rsplit(":", 1)[1])
    sock = ws_handshake(port)
    sock.sendall(ws_text_frame(json.dumps({"type": "Connect", "sessionId": "never-reads", "connectionCount": 0, "lastCloseReason": None})))
    big = "y" * 100_000
    dropped = False
    for request_id in range(200):  # 20 MB of answers for a 1 MB outbox
        message = {"type": "Action", "requestId": request_id, "udfPath": "actions:echo", "args": [{"value": big}]}
        try:
            sock.sendall(ws_text_frame(json.dumps(message)))
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
            break
    if not dropped:
        sock.settimeout(30)
        try:
            while sock.recv(1 << 20):  # the server must have cut the connection: reading ends
                pass
        except ConnectionResetError:
            pass
        dropped = True
    sock.close()
    assert dropped
    assert httpx.get(small_outbox_server.url + "/version", timeout=10).status_code == 200


def test_sockets_that_send_nothing_or_send_slowly_are_closed(tmp_path, server_database):
    running = _start(server_database, tmp_path, FUNCTIONS, None, None, "--http-timeout-s", "1")
    try:
        port = int(running.url.rsplit(":", 1)[1])
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow.sendall(b"POST /api/query HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        for sock in (idle, slow):
            sock.settimeout(20)
            assert sock.recv(100) == b""  # closed by the server
            sock.close()
        assert httpx.get(running.url + "/version", timeout=10).status_code == 200
    finally:
        running.stop()


def test_past_the_connection_cap_new_requests_get_503(tmp_path, server_database):
    running = _start(server_database, tmp_path, FUNCTIONS, None, None, "--max-connections", "8")
    held = []
    try:
        port = int(running.url.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(10)]
        time.sleep(0.5)
        response = httpx.get(running.url + "/version", timeout=10)
        assert response.status_code == 503
    finally:
        for sock in held:
            sock.close()
        running.stop()
