"""The host side of the syscall protocol on real PostgreSQL: Convex's operation names and JSON
shapes in, Convex-encoded JSON out, run against one transaction."""

from __future__ import annotations

import json

import pytest

from convexpy.errors import SyscallError
from convexpy.runtime.executor import ANONYMOUS, Identity
from convexpy.runtime.syscalls import SyscallHost


@pytest.fixture
def db(messages_db):
    return messages_db


async def call(host: SyscallHost, op: str, args: dict):
    return json.loads(await host.call(op, json.dumps(args)))


async def mutate(db, body):
    async def run(tx):
        host = SyscallHost(tx, Identity())
        try:
            return await body(host)
        finally:
            await host.close()

    result, _ = await db.run_mutation(run)
    return result


async def read(db, body, identity=ANONYMOUS):
    host = SyscallHost(db.begin(writable=False), identity)
    try:
        return await body(host)
    finally:
        await host.close()


async def test_documents_insert_get_merge_replace_remove(db):
    async def write(host):
        inserted = await call(host, "1.0/insert", {"table": "messages", "value": {"channel": "a", "n": 1, "note": "x"}})
        merged = await call(host, "1.0/shallowMerge", {"id": inserted["_id"], "value": {"n": 2, "note": {"$undefined": None}}})
        return inserted["_id"], merged

    doc_id, merged = await mutate(db, write)
    assert {key: merged[key] for key in ("channel", "n")} == {"channel": "a", "n": 2.0} and "note" not in merged

    async def replace_then_get(host):
        replaced = await call(host, "1.0/replace", {"id": doc_id, "value": {"channel": "b", "n": 3}})
        fetched = await call(host, "1.0/get", {"id": doc_id, "isSystem": False, "version": "1.48.0"})
        return replaced, fetched

    replaced, fetched = await mutate(db, replace_then_get)
    assert replaced == fetched and fetched["channel"] == "b" and fetched["_id"] == doc_id

    assert await mutate(db, lambda host: call(host, "1.0/remove", {"id": doc_id})) is None
    assert await read(db, lambda host: call(host, "1.0/get", {"id": doc_id, "isSystem": False})) is None


async def test_index_range_filter_and_limit_compile_onto_the_query_engine(db):
    async def fill(host):
        for n in range(10):
            await call(host, "1.0/insert", {"table": "messages", "value": {"channel": "c", "n": n}})

    await mutate(db, fill)
    query = {
        "source": {"type": "IndexRange", "indexName": "messages.by_channel", "order": "desc",
                   "range": [{"type": "Eq", "fieldPath": "channel", "value": "c"}, {"type": "Gte", "fieldPath": "n", "value": 2}]},
        "operators": [{"filter": {"$neq": [{"$mod": [{"$field": "n"}, {"$literal": 2}]}, {"$literal": 0}]}}, {"limit": 3}],
    }

    async def stream(host):
        query_id = (await call(host, "1.0/queryStream", {"query": query, "version": "1.48.0"}))["queryId"]
        found = []
        while True:
            step = await call(host, "1.0/queryStreamNext", {"queryId": query_id})
            if step["done"]:
                break
            found.append(step["value"]["n"])
        assert await call(host, "1.0/queryCleanup", {"queryId": query_id}) is True
        return found

    assert await read(db, stream) == [9.0, 7.0, 5.0]

    async def page(host):
        full = {"source": {"type": "FullTableScan", "tableName": "messages", "order": None}, "operators": []}
        first = await call(host, "1.0/queryPage", {"query": full, "cursor": None, "pageSize": 4})
        return first

    first = await read(db, page)
    assert len(first["page"]) == 4 and first["isDone"] is False and isinstance(first["continueCursor"], str)


async def test_normalize_id_identity_and_clean_failures(db):
    doc_id = await mutate(db, lambda host: call(host, "1.0/insert", {"table": "messages", "value": {"channel": "d", "n": 0}}))
    doc_id = doc_id["_id"]
    assert await read(db, lambda host: call(host, "1.0/db/normalizeId", {"table": "messages", "idString": doc_id})) == {"id": doc_id}
    assert await read(db, lambda host: call(host, "1.0/db/normalizeId", {"table": "messages", "idString": "nope"})) == {"id": None}
    user = Identity(user={"tokenIdentifier": "https://issuer|u1", "subject": "u1", "issuer": "https://issuer"})
    assert (await read(db, lambda host: call(host, "1.0/getUserIdentity", {}), user))["subject"] == "u1"
    assert await read(db, lambda host: call(host, "1.0/getUserIdentity", {})) is None

    with pytest.raises(SyscallError, match="^Unknown operation 1.0/nope$"):
        await read(db, lambda host: call(host, "1.0/nope", {}))
    with pytest.raises(SyscallError, match="queries cannot write"):
        await read(db, lambda host: call(host, "1.0/insert", {"table": "messages", "value": {"channel": "e", "n": 1}}))
    with pytest.raises(SyscallError, match="`id` is missing or has the wrong type"):
        await read(db, lambda host: call(host, "1.0/get", {"id": 5}))
