"""The bundled `convex/server` library runs in V8 against the syscall protocol: the analysis sees
what the reference backend sees, calls return Convex JSON, errors and logs come back as Convex
words them, and queries are deterministic."""

from __future__ import annotations

import json
import re

import pytest

from convexpy.errors import SyscallError
from convexpy.runtime.js.isolate import Isolate

DOC = {"_id": "kx7f", "_creationTime": 1700000000000.5, "sid": "s1", "name": "Yellow 😀", "owner": "ada"}


class FakeHost:
    """Answers the syscalls of a by_sid lookup with one document, and records every call."""

    def __init__(self, found: dict | None = DOC):
        self.found = found
        self.calls: list[tuple[str, dict]] = []
        self._served = False

    def __call__(self, op: str, args_json: str) -> str:
        args = json.loads(args_json)
        self.calls.append((op, args))
        if op == "1.0/queryStream":
            self._served = False
            return json.dumps({"queryId": 7})
        if op == "1.0/queryStreamNext":
            value, self._served = (None if self._served else self.found), True
            return json.dumps({"value": value, "done": value is None})
        if op == "1.0/queryCleanup":
            return "true"
        if op == "1.0/queryStreamAll":
            return json.dumps({"page": [] if self.found is None else [self.found]})
        if op == "1.0/shallowMerge":
            return json.dumps({**DOC, **args["value"]})
        if op == "1.0/insert":
            return json.dumps({"_id": "new1"})
        raise SyscallError(f"Unknown operation {op}")


@pytest.fixture
def host():
    return FakeHost()


@pytest.fixture
def isolate(pushed, host):
    isolate = Isolate(pushed, host)
    yield isolate
    isolate.close()


def test_the_analysis_finds_each_function_with_its_kind_visibility_and_validators(isolate):
    functions = {f["name"]: f for f in isolate.analyze("yellowpages.js")}
    assert sorted(functions) == ["clock", "counted", "everything", "fails", "getBySid", "upsert"]
    assert functions["getBySid"]["udfType"] == "Query" and functions["getBySid"]["visibility"] == {"kind": "public"}
    assert functions["fails"]["udfType"] == "Mutation" and functions["fails"]["visibility"] == {"kind": "internal"}
    assert json.loads(functions["getBySid"]["args"]) == {
        "type": "object", "value": {"sid": {"fieldType": {"type": "string"}, "optional": False}}}
    assert json.loads(functions["upsert"]["returns"]) == {"type": "id", "tableName": "yp_services"}
    assert functions["getBySid"]["returns"] == "null"


def test_the_schema_exports_its_tables_and_indexes(isolate):
    schema = isolate.export_default("schema.js")
    (table,) = schema["tables"]
    assert table["tableName"] == "yp_services"
    assert table["indexes"] == [{"indexDescriptor": "by_sid", "fields": ["sid"]}]
    assert schema["schemaValidation"] is True


def test_a_small_query_is_read_in_one_syscall_with_the_query_json_convex_sends(isolate, host):
    outcome = isolate.invoke("yellowpages.js", "getBySid", "Query", '[{"sid": "s1"}]', 1, 0.0)
    assert outcome.ok and outcome.value == DOC
    assert [op for op, _ in host.calls] == ["1.0/queryStreamAll"]  # unique(): limit 2, one round trip
    query = host.calls[0][1]["query"]
    assert query["source"] == {"type": "IndexRange", "indexName": "yp_services.by_sid",
                               "range": [{"type": "Eq", "fieldPath": "sid", "value": "s1"}], "order": None}
    assert query["operators"] == [{"limit": 2}]


def test_a_query_without_a_small_limit_streams_from_the_host(isolate, host):
    outcome = isolate.invoke("yellowpages.js", "everything", "Query", "[{}]", 1, 0.0)
    assert outcome.ok and outcome.value == [DOC]
    assert [op for op, _ in host.calls] == ["1.0/queryStream", "1.0/queryStreamNext", "1.0/queryStreamNext", "1.0/queryCleanup"]
    assert host.calls[0][1]["query"]["operators"] == []


def test_a_mutation_logs_with_levels_and_writes(isolate, host):
    outcome = isolate.invoke("yellowpages.js", "upsert", "Mutation", '[{"sid": "s1", "name": "New", "owner": "bo"}]', 1, 0.0)
    assert outcome.ok and outcome.value == "kx7f"
    assert outcome.log_lines == ["[LOG] 'upsert' 's1' {\n  owner: 'bo'\n}", "[WARN] 'careful 😀'"]
    assert ("1.0/shallowMerge", {"id": "kx7f", "value": {"name": "New", "owner": "bo"}}) in host.calls


def test_convex_error_data_and_thrown_errors_come_back_as_convex_words_them(isolate):
    outcome = isolate.invoke("yellowpages.js", "upsert", "Mutation", '[{"sid": "s9", "name": "", "owner": "bo"}]', 1, 0.0)
    assert not outcome.ok and outcome.has_error_data
    assert outcome.error_data == {"code": "EMPTY_NAME", "sid": "s9"}
    assert outcome.message.startswith("Uncaught ConvexError: ")
    outcome = isolate.invoke("yellowpages.js", "fails", "Mutation", '[{"n": 3}]', 1, 0.0)
    assert not outcome.ok and not outcome.has_error_data
    assert outcome.message.startswith("Uncaught Error: no 3\n    at handler (convex:/yellowpages.js:")


def test_a_failed_syscall_is_an_error_the_function_sees(pushed):
    isolate = Isolate(pushed, _failing)
    try:
        outcome = isolate.invoke("yellowpages.js", "getBySid", "Query", '[{"sid": "s1"}]', 1, 0.0)
    finally:
        isolate.close()
    assert not outcome.ok and "Uncaught Error: the database is on fire" in outcome.message


def _failing(op: str, args_json: str) -> str:
    raise SyscallError("the database is on fire")


def test_queries_see_a_frozen_clock_and_a_seeded_random(isolate):
    first = isolate.invoke("yellowpages.js", "clock", "Query", "[{}]", 42, 1_700_000_000_000.0).value
    again = isolate.invoke("yellowpages.js", "clock", "Query", "[{}]", 42, 1_700_000_000_000.0).value
    other = isolate.invoke("yellowpages.js", "clock", "Query", "[{}]", 43, 1_700_000_000_000.0).value
    assert first[0] == first[2] == 1_700_000_000_000.0
    assert first == again and first[1] != other[1] and 0 <= first[1] < 1


def test_module_state_in_a_shared_chunk_is_one_live_binding(isolate):
    assert isolate.invoke("yellowpages.js", "counted", "Query", "[{}]", 1, 0.0).value == [0, 1, 1]
    assert isolate.invoke("other.js", "shadowed", "Query", "[{}]", 1, 0.0).value == {"outer": 2, "inner": 70, "shorthand": {"count": 2}}
    assert isolate.invoke("yellowpages.js", "counted", "Query", "[{}]", 1, 0.0).value == [2, 3, 3]


def test_the_web_platform_globals_functions_use(isolate):
    first = isolate.invoke("globals.js", "globalsInQuery", "Query", "[{}]", 9, 0.0)
    assert first.ok, first.message
    value = first.value
    assert value["bytes"] == list("héllo 😀".encode()) and value["text"] == "héllo 😀"
    assert value["invalid"] == "a\ufffdb"
    assert value["b64"] == "aGn/" and value["unb64"] == "hi\u00ff"
    assert value["cloneDate"] == 5 and value["cloneMap"] == [1, 2] and value["cloneNested"] == {"deep": [1, {"x": 2}]}
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value["uuid"])
    again = isolate.invoke("globals.js", "globalsInQuery", "Query", "[{}]", 9, 0.0).value
    assert (again["uuid"], again["random"]) == (value["uuid"], value["random"])  # seeded in queries
    actions = [isolate.invoke("globals.js", "globalsInAction", "Action", "[{}]", 9, 0.0).value for _ in range(2)]
    assert actions[0]["uuid"] != actions[1]["uuid"]  # from the operating system in actions


def test_http_routes_crons_and_auth_providers_are_read_as_the_reference_backend_reads_them(isolate):
    routes = isolate.analyze_config("http.js")["httpRoutes"]
    assert [route["route"] for route in routes] == [{"path": "/hello", "method": "GET"}, {"path": "/files/*", "method": "POST"}]
    crons = isolate.analyze_config("crons.js")["cronSpecs"]
    assert crons["clear presence"]["name"] == "yellowpages:upsert"
    assert crons["clear presence"]["schedule"] == {"type": "interval", "minutes": 5}
    assert crons["digest"]["schedule"] == {"type": "daily", "hourUTC": 7, "minuteUTC": 30}
    assert isolate.analyze_config("auth.config.js") == {
        "authProviders": [{"domain": "https://issuer.example.com", "applicationID": "convex"}]}


@pytest.fixture
def echo_server():
    """A local HTTP server answering POST / with the request's JSON and headers, 404 elsewhere."""
    import http.server
    import threading

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            answer = json.dumps({"got": json.loads(body), "header": self.headers.get("x-test")}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_action_waits_on_timers_and_fetches(isolate, echo_server):
    outcome = isolate.invoke("globals.js", "waitAndFetch", "Action", json.dumps([{"url": echo_server}]), 1, 0.0)
    assert outcome.ok, outcome.message
    assert outcome.value == {"order": ["awaited", "late"], "status": 200, "ok": True, "echo": {"got": {"hello": "😀"}, "header": "1"},
                             "header": "application/json", "missing": 404, "refused": True}


def test_timers_are_refused_in_queries(isolate):
    outcome = isolate.invoke("globals.js", "timerInQuery", "Query", "[{}]", 1, 0.0)
    assert not outcome.ok and "setTimeout is not allowed in queries and mutations" in outcome.message


def test_url_and_search_params(isolate):
    outcome = isolate.invoke("globals.js", "urls", "Query", "[{}]", 1, 0.0)
    assert outcome.ok, outcome.message
    assert outcome.value == {
        "href": "https://User:pw@example.com/a/c?x=1&y=two+words&z=%26%3D#frag", "host": "example.com", "origin": "https://example.com",
        "pathname": "/a/c", "search": "?x=1&y=two+words&z=%26%3D", "hash": "#frag", "y": "two words",
        "relative": "https://example.com/a/d?q=1", "params": "a=2&b=x+y", "port": "8080", "invalid": "TypeError",
    }


def test_web_crypto_signs_encrypts_and_derives_as_other_implementations_check(isolate):
    import base64
    import hashlib
    import hmac as stdlib_hmac

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    private = rsa.generate_private_key(65537, 2048)
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    spki = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    args = json.dumps([{"pkcs8": base64.b64encode(pkcs8).decode(), "spki": base64.b64encode(spki).decode()}])
    outcome = isolate.invoke("globals.js", "webCrypto", "Action", args, 1, 0.0)
    assert outcome.ok, outcome.message
    value = outcome.value
    assert value["sha256"] == hashlib.sha256(b"abc").hexdigest()
    fox = b"The quick brown fox jumps over the lazy dog"
    assert value["mac"] == stdlib_hmac.new(b"key", fox, "sha256").hexdigest()
    assert (value["macValid"], value["macTampered"]) == (True, False)
    assert value["jwk"] == {"kty": "oct", "k": "a2V5", "alg": "HS256", "key_ops": ["sign", "verify"], "ext": True}
    private.public_key().verify(base64.b64decode(value["rs256"]), b"header.payload", padding.PKCS1v15(), hashes.SHA256())
    assert value["rsaValid"] is True
    point = value["ecPublic"]
    assert (point["kty"], point["crv"]) == ("EC", "P-256")
    unb64url = lambda text: int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")  # noqa: E731
    public = ec.EllipticCurvePublicNumbers(unb64url(point["x"]), unb64url(point["y"]), ec.SECP256R1()).public_key()
    signature = base64.b64decode(value["es256"])
    assert len(signature) == 64  # Web Crypto's r || s
    public.verify(encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")), b"signed",
                  ec.ECDSA(hashes.SHA256()))
    assert value["ecValid"] is True
    assert AESGCM(bytes([7]) * 16).decrypt(bytes([1]) * 12, base64.b64decode(value["sealed"]), b"aad") == b"secret text"
    assert value["opened"] == "secret text" and value["tampered"] == "OperationError"
    assert value["pbkdf2"] == "0c60c80f961f0e71f3a9b524af6012062fe037a6"  # RFC 6070
    assert value["derivedBits"] == 256 and value["isKey"] is True
    assert value["wrongUsage"] == "InvalidAccessError" and value["unknown"] == "NotSupportedError"


def test_blobs_form_data_and_abort_signals(isolate):
    outcome = isolate.invoke("globals.js", "webBodies", "Action", "[{}]", 1, 0.0)
    assert outcome.ok, outcome.message
    assert outcome.value == {
        "size": 12, "type": "text/plain", "text": "héllo world", "sliced": "éll",
        "contentType": "multipart/form-data", "name": "Grace", "names": ["name", "upload"],
        "uploadName": "data.csv", "uploadType": "text/csv", "uploadText": "file body",
        "encodedType": "application/x-www-form-urlencoded;charset=UTF-8", "encodedText": "a=1&b=x+y",
        "aborted": "AbortError", "seen": ["abort event"], "signalAborted": True,
        "jsonStatus": 201, "jsonType": "application/json", "jsonBody": {"ok": True}, "reused": "TypeError",
        "timeoutSignal": False,
    }
