"""Malformed and unauthorized requests get the backend's status and {code, message} envelope,
and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

ENCODED = "convex_encoded_json"


def assert_envelope(response: httpx.Response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    if message is not None:
        assert body["message"] == message


def test_wrong_content_type(server):
    response = server.post("/api/query", headers={"content-type": "text/plain"}, content=b"{}")
    assert_envelope(response, 400, "BadJsonBody", "Expected request with `Content-Type: application/json`")


@pytest.mark.parametrize("body", [b"{", b"not json", b'{"path": "a:b", "args": {}', b"\xff\xfe"])
def test_malformed_json(server, body):
    assert_envelope(server.post("/api/mutation", content=body), 400, "BadJsonBody")


def test_missing_fields(server):
    assert_envelope(server.post("/api/query", {"args": {}}), 400, "BadJsonBody", "missing field `path`")
    assert_envelope(server.post("/api/query", {"path": "a:b"}), 400, "BadJsonBody", "missing field `args`")


def test_bad_function_path(server):
    response = server.post("/api/query", {"path": "../etc:passwd", "args": {}})
    assert_envelope(response, 400, "BadConvexFunctionIdentifier")
    response = server.post("/api/query", {"path": "messages.ts:list", "args": {}})
    assert_envelope(response, 400, "BadConvexFunctionIdentifier", "messages.ts:list is not a valid path to a Convex function. Module path (messages.ts) has an extension that isn't 'js'.")


def test_bad_format(server):
    response = server.post("/api/query", {"path": "accounts:total", "args": {}, "format": "xml"})
    assert_envelope(response, 400, "BadFormat", "format param must be one of [`json`]. Got xml")


def test_oversized_body(server):
    huge = b'{"path":"values:echo","args":{"value":"' + b"x" * (17 * 1024 * 1024) + b'"}}'
    assert_envelope(server.post("/api/query", content=huge), 413, "PayloadTooLarge")


def test_auth_header_shapes(server):
    assert_envelope(server.post("/api/query", {"path": "accounts:total", "args": {}}, headers={"authorization": "abc"}),
                    400, "InvalidHeaderFailure", "Invalid authentication header")
    assert_envelope(server.post("/api/query", {"path": "accounts:total", "args": {}}, headers={"authorization": "Basic xyzxyz"}),
                    400, "InvalidAdminKey", "Invalid admin key")
    assert_envelope(server.post("/api/query", {"path": "accounts:total", "args": {}}, headers={"authorization": "Convex nope"}),
                    401, "BadAdminKey", "The provided admin key was invalid for this instance")
    acting = server.admin_key + ":not-base64!"
    assert_envelope(server.post("/api/query", {"path": "accounts:total", "args": {}}, headers={"authorization": "Convex " + acting}),
                    400, "HeaderParseFailure", "Malformed Authorization header.")


def test_bad_argument_encoding_is_a_function_error(server):
    response = server.post("/api/query", {"path": "values:echo", "args": {"value": {"$integer": "AQ=="}}, "format": ENCODED})
    assert response.status_code == 200
    assert "Invalid arguments for values:echo: Int64 must be exactly eight bytes" in response.json()["errorMessage"]


def test_unknown_function_and_formats(server):
    body = server.post("/api/query", {"path": "nope:missing", "args": {}, "format": ENCODED}).json()
    assert body["status"] == "error" and body["errorMessage"].endswith("Server Error\nCould not find public function for 'nope:missing'.\n")
    run = server.post("/api/run/nope/missing", {"args": {}}).json()
    assert "Could not find function for 'nope:missing'. Did you forget to run `npx convex dev`?" in run["errorMessage"]
    clean = server.post("/api/run/values/make", {"args": {}}).json()
    assert clean["value"]["int"] == "-9223372036854775808" and clean["value"]["bytes"] == "AP8="
    export = server.post("/api/query", {"path": "values:make", "args": {}, "format": "export_json"}).json()
    assert export["value"]["big"] == 9223372036854775807


def test_run_by_url_needs_two_segments(server):
    assert_envelope(server.post("/api/run/onlyone", {"args": {}}), 400, "MissingIdentifier",
                    "Path or function name not provided in path, e.g. /api/run/messages/list")


def test_admin_routes(server):
    denied = server.post("/api/function", {"path": "admin:secret", "args": {}})
    assert_envelope(denied, 403, "BadDeployKey")
    ok = httpx.get(server.url + "/api/check_admin_key", headers={"authorization": "Convex " + server.admin_key})
    assert ok.json()["success"] is True
    assert_envelope(httpx.get(server.url + "/api/check_admin_key"), 403, "BadDeployKey")


def test_query_batch_and_timestamps(server):
    ts = server.post("/api/query_ts", content=b"").json()["ts"]
    assert len(ts) == 12
    batch = server.post("/api/query_batch", {"queries": [
        {"path": "accounts:total", "args": {}, "format": ENCODED},
        {"path": "nope:x", "args": {}, "format": ENCODED},
    ]}).json()["results"]
    assert batch[0]["status"] == "success" and batch[1]["status"] == "error"
    at = server.post("/api/query_at_ts", {"path": "accounts:total", "args": [{}], "ts": ts, "format": ENCODED}).json()
    assert at["status"] == "success"


def test_cors_preflight(server):
    response = httpx.options(server.url + "/api/query", headers={
        "origin": "https://app.example", "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,convex-client"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["access-control-allow-headers"] == "content-type,convex-client"


def test_server_keeps_serving_after_bad_input(server):
    for _ in range(3):
        server.post("/api/query", content=b"{{{")
    assert server.post("/api/query", {"path": "accounts:total", "args": {}}).json()["status"] == "success"


def test_document_limits(server):
    big = "x" * (1024 * 1024)
    body = server.post("/api/mutation", {"path": "errors:insertItem", "args": {"doc": {"tag": big, "rank": 1}}, "format": ENCODED}).json()
    assert "Value is too large" in body["errorMessage"] and "maximum size 1 MiB" in body["errorMessage"]
    bad_field = server.post("/api/mutation", {"path": "values:store", "args": {"value": {"_hidden": 1}}, "format": ENCODED}).json()
    assert bad_field["status"] == "success"  # nested fields may start with "_"; only top-level ones may not
    top = server.post("/api/mutation", {"path": "errors:insertItem", "args": {"doc": {"_x": 1}}, "format": ENCODED}).json()
    assert "Field '_x' starts with an underscore" in top["errorMessage"]
