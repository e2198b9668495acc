"""The Python guest's ctx.db as a syscall client: the documented Python API, with every call going
through the host's syscalls (here in process) and behaving as the in-process API does."""

from __future__ import annotations

import pytest

from convexpy.errors import QueryError
from convexpy.runtime.executor import ANONYMOUS
from convexpy.runtime.guest import GuestDatabaseReader, GuestDatabaseWriter, GuestQuery
from convexpy.runtime.syscalls import SyscallHost


@pytest.fixture
def db(messages_db):
    return messages_db


async def in_mutation(db, body):
    async def run(tx):
        host = SyscallHost(tx, ANONYMOUS)
        try:
            return await body(GuestDatabaseWriter(host))
        finally:
            await host.close()

    return (await db.run_mutation(run))[0]


async def in_query(db, body):
    host = SyscallHost(db.begin(writable=False), ANONYMOUS)
    try:
        return await body(GuestDatabaseReader(host))
    finally:
        await host.close()


async def test_documents_through_syscalls(db):
    async def write(ctx_db):
        doc_id = await ctx_db.insert("messages", {"channel": "a", "n": 1, "note": "hi"})
        await ctx_db.patch(doc_id, {"n": 2})
        await ctx_db.replace(doc_id, {"channel": "a", "n": 3})
        return doc_id, await ctx_db.get(doc_id)

    doc_id, document = await in_mutation(db, write)
    assert document["n"] == 3.0 and "note" not in document and document["_id"] == doc_id
    assert await in_query(db, lambda ctx_db: ctx_db.get("messages", doc_id)) == document
    assert await in_query(db, lambda ctx_db: _sync(ctx_db.normalize_id("messages", doc_id))) == doc_id
    await in_mutation(db, lambda ctx_db: ctx_db.delete(doc_id))
    assert await in_query(db, lambda ctx_db: ctx_db.get(doc_id)) is None


async def _sync(value):
    return value


async def test_queries_serialize_to_convex_query_json_and_run_on_the_host_engine(db):
    async def fill(ctx_db):
        for n in range(10):
            await ctx_db.insert("messages", {"channel": "q", "n": n})
        await ctx_db.insert("messages", {"channel": "other", "n": 0})

    await in_mutation(db, fill)

    def ranged(ctx_db) -> GuestQuery:
        return ctx_db.query("messages").with_index("by_channel", lambda q: q.eq("channel", "q").gte("n", 2)).order("desc")

    async def run(ctx_db):
        odd = ranged(ctx_db).filter(lambda q: q.eq(q.mod(q.field("n"), 2), 1))
        streamed = []
        async for document in ranged(ctx_db):
            streamed.append(document["n"])
            if len(streamed) == 3:
                break
        return {
            "take": [d["n"] for d in await odd.take(2)],
            "first": (await ranged(ctx_db).first())["n"],
            "collect": len(await ctx_db.query("messages").collect()),
            "streamed": streamed,
            "unique": (await ctx_db.query("messages").with_index("by_channel", lambda q: q.eq("channel", "other")).unique())["n"],
        }

    results = await in_query(db, run)
    assert results == {"take": [9.0, 7.0], "first": 9.0, "collect": 11, "streamed": [9.0, 8.0, 7.0], "unique": 0.0}

    def channel_q(ctx_db) -> GuestQuery:
        return ctx_db.query("messages").with_index("by_channel", lambda q: q.eq("channel", "q"))

    page = await in_query(db, lambda ctx_db: channel_q(ctx_db).paginate({"numItems": 4, "cursor": None}))
    rest = await in_query(db, lambda ctx_db: channel_q(ctx_db).paginate({"numItems": 100, "cursor": page["continueCursor"]}))
    assert ([d["n"] for d in page["page"]], page["isDone"]) == ([0.0, 1.0, 2.0, 3.0], False)
    assert ([d["n"] for d in rest["page"]], rest["isDone"]) == ([4.0, 5.0, 6.0, 7.0, 8.0, 9.0], True)
    assert ranged(GuestDatabaseReader(None)).to_json(limit=1) == {  # type: ignore[arg-type]
        "source": {"type": "IndexRange", "indexName": "messages.by_channel", "order": "desc",
                   "range": [{"type": "Eq", "fieldPath": "channel", "value": "q"}, {"type": "Gte", "fieldPath": "n", "value": 2.0}]},
        "operators": [{"limit": 1}],
    }


async def test_errors_reach_the_guest_with_the_hosts_messages(db):
    async def duplicate(ctx_db):
        for _ in range(2):
            await ctx_db.insert("messages", {"channel": "dup", "n": 1})

    await in_mutation(db, duplicate)
    with pytest.raises(QueryError, match="unique\\(\\) query returned more than one result from table messages"):
        await in_query(db, lambda ctx_db: ctx_db.query("messages").with_index("by_channel", lambda q: q.eq("channel", "dup")).unique())
    with pytest.raises(QueryError, match="Index messages.nope not found."):
        await in_query(db, lambda ctx_db: ctx_db.query("messages").with_index("nope").collect())
    assert await in_query(db, lambda ctx_db: ctx_db.system.query("_storage").collect()) == []
