"""What user code does with what it read can never corrupt indexes or escape the read set:
documents are the function's own copies, scans stopped early still count, cursors stay in their query."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10]


def test_editing_a_fetched_document_in_place_leaves_no_stale_index_entry(js):
    alice, bob = unique("alice"), unique("bob")
    note_id = js.js_one("mutation", "hardening:addNote", {"owner": alice, "text": "hello"})["value"]
    moved = js.js_one("mutation", "hardening:moveNoteEditingInPlace", {"id": note_id, "owner": bob})
    assert moved["ok"], moved
    assert js.js_one("query", "hardening:notesOf", {"owner": bob})["value"] == ["hello"]
    assert js.js_one("query", "hardening:notesOf", {"owner": alice})["value"] == []


def test_a_scan_stopped_with_break_still_updates_its_subscription(live):
    ward = unique("ward")
    for doctor in ("grey", "shepherd"):
        assert live.call("mutation", "hardening:addShift", {"ward": ward, "doctor": doctor, "on_call": True})["ok"]
    assert live.subscribe("s", "hardening:firstOnCall", {"ward": ward})["value"] == "grey"
    result = live.call("mutation", "hardening:goOffCall", {"ward": ward, "doctor": "grey"})
    assert result["ok"] and result["value"] is True, result
    assert result["seen"]["s"] == "shepherd"  # the write reached the subscription before the mutation resolved


def test_a_cursor_from_another_query_is_refused_not_followed_out_of_its_range(js):
    mine, theirs = unique("me"), unique("them")
    for n in range(3):
        js.js_one("mutation", "hardening:addNote", {"owner": theirs, "text": f"secret {n}"})
        js.js_one("mutation", "hardening:addNote", {"owner": mine, "text": f"mine {n}"})
    first = js.js_one("query", "hardening:notesPage", {"owner": theirs, "paginationOpts": {"numItems": 1, "cursor": None}})
    assert first["value"]["page"] == ["secret 0"]
    stolen = js.js_one(
        "query", "hardening:notesPage", {"owner": mine, "paginationOpts": {"numItems": 10, "cursor": first["value"]["continueCursor"]}}
    )
    assert not stolen["ok"]
    assert "InvalidCursor: Tried to run a query starting from a cursor, but it looks like this cursor is from a different query." in stolen["message"]
    assert stolen["data"] == {"isConvexSystemError": True, "paginationError": "InvalidCursor"}
    own = js.js_one("query", "hardening:notesPage", {"owner": mine, "paginationOpts": {"numItems": 10, "cursor": None}})
    assert own["value"]["page"] == ["mine 0", "mine 1", "mine 2"]
