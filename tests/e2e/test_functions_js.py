"""The official npm ConvexHttpClient against a running server."""

from __future__ import annotations

import uuid


def channel() -> str:
    return "c" + uuid.uuid4().hex[:10]


def test_mutation_then_query_roundtrip(js):
    name = channel()
    created = js.js_one("mutation", "accounts:create", {"name": name, "balance": 10.0})
    assert created["ok"], created
    assert len(created["value"]) == 32
    found = js.js_one("query", "accounts:byName", {"name": name})
    assert found["ok"]
    assert found["value"]["_id"] == created["value"]
    assert found["value"]["balance"] == 10
    assert isinstance(found["value"]["_creationTime"], float)


def test_index_range_with_order(js):
    ch = channel()
    assert js.js_one("mutation", "messages:sendMany", {"channel": ch, "count": 10.0})["ok"]
    js.js_one("mutation", "messages:sendMany", {"channel": ch + "x", "count": 3.0})
    asc = js.js_one("query", "messages:byRange", {"channel": ch})
    assert asc["value"] == [float(n) for n in range(10)]
    desc = js.js_one("query", "messages:byRange", {"channel": ch, "order": "desc"})
    assert desc["value"] == [float(n) for n in reversed(range(10))]
    window = js.js_one("query", "messages:byRange", {"channel": ch, "gte": 3.0, "lt": 7.0})
    assert window["value"] == [3.0, 4.0, 5.0, 6.0]
    latest = js.js_one("query", "messages:latest", {"channel": ch})
    assert latest["value"]["n"] == 9


def test_filter_expression(js):
    ch = channel()
    js.js_one("mutation", "messages:sendMany", {"channel": ch, "count": 6.0})
    assert js.js_one("query", "messages:filtered", {"channel": ch, "min": 4.0})["value"] == [4.0, 5.0]


def test_pagination_across_pages(js):
    ch = channel()
    js.js_one("mutation", "messages:sendMany", {"channel": ch, "count": 25.0})
    seen: list[float] = []
    cursor = None
    pages = 0
    while True:
        result = js.js_one("query", "messages:page", {"channel": ch, "paginationOpts": {"numItems": 10.0, "cursor": cursor}})
        assert result["ok"], result
        page = result["value"]
        seen.extend(page["page"])
        pages += 1
        if page["isDone"]:
            break
        cursor = page["continueCursor"]
        assert isinstance(cursor, str)
    assert seen == [float(n) for n in range(25)]
    assert pages == 3


def test_convex_error_data_and_rollback(js):
    tag = channel()
    failed = js.js_one("mutation", "errors:insertThenFail", {"tag": tag})
    assert not failed["ok"]
    assert failed["isConvexError"]
    assert failed["data"] == "rolled back"
    assert js.js_one("query", "errors:countTag", {"tag": tag})["value"] == 0


def test_convex_error_with_object_data(js):
    result = js.js_one("mutation", "errors:convexError", {"data": {"code": "E42", "n": {"$integer": "KgAAAAAAAAA="}}})
    assert result["isConvexError"]
    assert result["data"] == {"code": "E42", "n": {"$integer": "KgAAAAAAAAA="}}
    assert "Uncaught ConvexError" in result["message"]


def test_uncaught_error_message(js):
    result = js.js_one("query", "errors:boom")
    assert not result["ok"] and not result["isConvexError"]
    assert "Server Error\nUncaught ValueError: boom" in result["message"]
    assert result["message"].startswith("[Request ID: ")


def test_internal_function_needs_admin(js):
    denied = js.js_one("query", "admin:secret")
    assert not denied["ok"]
    assert "Could not find public function for 'admin:secret'." in denied["message"]
    allowed = js.js_one("query", "admin:secret", admin=js.admin_key)
    assert allowed == {"ok": True, "value": "internal value"}


def test_admin_acting_as_user(js):
    result = js.js_one("query", "admin:whoami", admin=js.admin_key, actingAs={"subject": "u1", "issuer": "https://auth.example", "name": "Ann"})
    assert result["ok"], result
    assert result["value"]["tokenIdentifier"] == "https://auth.example|u1"
    assert result["value"]["name"] == "Ann"


def test_function_endpoint_requires_admin(js):
    assert js.js_one("function", "admin:secret", admin=js.admin_key)["value"] == "internal value"
    denied = js.js_one("function", "admin:secret")
    assert not denied["ok"] and "BadDeployKey" in denied["message"]


def test_argument_validation_errors(js):
    wrong_type = js.js_one("query", "accounts:byName", {"name": 5.0})
    assert "ArgumentValidationError: Value does not match validator.\nPath: .name\nValue: 5\nValidator: v.string()" in wrong_type["message"]
    missing = js.js_one("query", "accounts:byName", {})
    assert "ArgumentValidationError: Object is missing the required field `name`." in missing["message"]
    extra = js.js_one("query", "accounts:byName", {"name": "a", "other": 1.0})
    assert "ArgumentValidationError: Object contains extra field `other` that is not in the validator." in extra["message"]
    bad_id = js.js_one("mutation", "accounts:transfer", {"from_id": "nope", "to_id": "nope", "amount": 1.0})
    assert "Path: .from_id" in bad_id["message"] and 'Validator: v.id("accounts")' in bad_id["message"]


def test_wrong_function_kind(js):
    result = js.js_one("mutation", "accounts:total")
    assert "Trying to execute accounts.js:total as Mutation, but it is defined as Query." in result["message"]


def test_value_roundtrips_through_args_and_storage(js):
    special = {
        "int": {"$integer": "AQAAAAAAAAA="},
        "negint": {"$integer": "//////////8="},
        "nan": {"$float": "AAAAAAAA+H8="},
        "inf": {"$float": "AAAAAAAA8H8="},
        "neginf": {"$float": "AAAAAAAA8P8="},
        "negzero": {"$float": "AAAAAAAAAIA="},
        "bytes": {"$bytes": "AAECAwT/"},
        "unicode": "h\u00e9llo \u2603 \U0001f600",
        "nested": {"a": [1.5, None, True, {"b": [[[]]]}]},
        "empty": {},
    }
    for op, path in (("query", "values:echo"), ("mutation", "values:store")):
        result = js.js_one(op, path, {"value": special})
        assert result == {"ok": True, "value": special}, path


def test_int64_arithmetic(js):
    assert js.js_one("query", "values:double", {"n": {"$integer": "FQAAAAAAAAA="}})["value"] == {"$integer": "KgAAAAAAAAA="}


def test_action_calls_query_and_mutation(js):
    ch = channel()
    assert js.js_one("action", "actions:sendAndCount", {"channel": ch}) == {"ok": True, "value": 1.0}
    nested = js.js_one("action", "actions:failsWithData")
    assert nested["isConvexError"] and nested["data"] == {"caught": {"why": "nested"}}
    assert js.js_one("action", "admin:callSecret")["value"] == "internal value"


def test_query_cannot_write(js):
    result = js.js_one("query", "errors:tryWrite")
    assert "cannot write to the database" in result["message"]


def test_schema_violation_is_refused(js):
    result = js.js_one("mutation", "errors:insertItem", {"doc": {"tag": "t", "rank": "high"}})
    assert not result["ok"]
    assert 'Failed to insert or update a document in table "items" because it does not match the schema' in result["message"]
    assert "Path: .rank" in result["message"]


def test_consistent_query(js):
    result = js.js_one("consistentQuery", "accounts:total")
    assert result["ok"], result
    assert set(result["value"]) == {"count", "total"}
