"""Transactions on real PostgreSQL: isolation, OCC conflicts, retries, and serializability."""

from __future__ import annotations

import asyncio

import pytest

from convexpy.database import Database
from convexpy.database.readset import Interval
from convexpy.errors import ConflictError


@pytest.fixture
async def db(fresh_database):
    database = await Database.open(fresh_database, pool_size=8)
    yield database
    await database.close()


async def collect(tx, index):
    scan = tx.scan(index, Interval(b"", None))
    try:
        return [doc async for doc in scan]
    finally:
        scan.close()


async def test_uncommitted_writes_are_invisible_and_own_writes_visible(db):
    table = await db.ensure_table("things")
    writer = db.begin(writable=True)
    doc_id = await writer.insert(table, {"n": 1.0})
    assert [doc["_id"] for doc in await collect(writer, table.by_creation_time)] == [doc_id]
    reader = db.begin(writable=False)
    assert await collect(reader, table.by_creation_time) == []
    await db.commit(writer)
    assert await collect(reader, table.by_creation_time) == []  # its snapshot predates the commit
    assert len(await collect(db.begin(writable=False), table.by_creation_time)) == 1


async def test_write_skew_is_refused(db):
    table = await db.ensure_table("things")
    setup = db.begin(writable=True)
    await setup.insert(table, {"n": 1.0})
    await db.commit(setup)

    first, second = db.begin(writable=True), db.begin(writable=True)
    for tx in (first, second):
        docs = await collect(tx, table.by_creation_time)
        await tx.insert(table, {"n": float(len(docs))})
    await db.commit(first)
    with pytest.raises(ConflictError):
        await db.commit(second)


async def test_phantom_insert_into_a_read_range_conflicts(db):
    table = await db.ensure_table("things")
    reader = db.begin(writable=True)
    await collect(reader, table.by_creation_time)
    other = db.begin(writable=True)
    await other.insert(table, {"n": 1.0})
    await db.commit(other)
    await reader.insert(table, {"n": 2.0})
    with pytest.raises(ConflictError):
        await db.commit(reader)


async def test_disjoint_reads_do_not_conflict(db):
    table = await db.ensure_table("things")
    setup = db.begin(writable=True)
    ids = [await setup.insert(table, {"n": float(n)}) for n in range(2)]
    await db.commit(setup)
    from convexpy.values.ids import DocumentId

    a, b = (DocumentId.decode(doc_id).internal_id for doc_id in ids)
    first, second = db.begin(writable=True), db.begin(writable=True)
    doc_a = await first.get(table, a)
    doc_b = await second.get(table, b)
    await first.replace(table, a, {**doc_a, "n": 10.0})
    await second.replace(table, b, {**doc_b, "n": 20.0})
    ts1 = await db.commit(first)
    ts2 = await db.commit(second)
    assert ts2 > ts1


async def test_concurrent_transfers_preserve_the_total(db):
    table = await db.ensure_table("accounts")
    setup = db.begin(writable=True)
    ids = [await setup.insert(table, {"balance": 100.0}) for _ in range(5)]
    await db.commit(setup)
    from convexpy.values.ids import DocumentId

    internal = [DocumentId.decode(doc_id).internal_id for doc_id in ids]

    async def transfer(i: int):
        source, target = internal[i % 5], internal[(i * 3 + 1) % 5]
        if source == target:
            target = internal[(i + 1) % 5]

        async def body(tx):
            a, b = await tx.get(table, source), await tx.get(table, target)
            await tx.replace(table, source, {**a, "balance": a["balance"] - 1})
            await tx.replace(table, target, {**b, "balance": b["balance"] + 1})

        await db.run_mutation(body)

    await asyncio.gather(*(transfer(i) for i in range(250)))
    docs = await collect(db.begin(writable=False), table.by_creation_time)
    assert sum(doc["balance"] for doc in docs) == 500.0
    assert db.latest_ts == await db.persistence.read_clock()


async def test_commit_timestamps_survive_restart(fresh_database):
    first = await Database.open(fresh_database)
    table = await first.ensure_table("things")
    tx = first.begin(writable=True)
    await tx.insert(table, {})
    last = await first.commit(tx)
    await first.close()
    second = await Database.open(fresh_database)
    table = second.catalog.by_name["things"]
    tx = second.begin(writable=True)
    await tx.insert(table, {})
    assert await second.commit(tx) > last
    assert len(await collect(second.begin(writable=False), table.by_creation_time)) == 2
    await second.close()


async def test_reading_too_many_documents_fails_clearly(db, monkeypatch):
    from convexpy.database import transaction

    monkeypatch.setattr(transaction, "MAX_DOCUMENTS_READ", 5)
    table = await db.ensure_table("things")
    setup = db.begin(writable=True)
    for n in range(6):
        await setup.insert(table, {"n": float(n)})
    await db.commit(setup)
    with pytest.raises(transaction.ReadLimitExceeded, match=r"Too many documents read in a single function execution \(limit: 5\)"):
        await collect(db.begin(writable=False), table.by_creation_time)


async def test_a_scan_left_open_still_conflicts(db):
    """A transaction reads a row through a scan it never closes; another changes that row and
    commits first: the first one's commit must conflict (the read counted when it was handed out)."""
    table = await db.ensure_table("shifts")
    log = await db.ensure_table("log")
    setup = db.begin(writable=True)
    for doctor in ("a", "b"):
        await setup.insert(table, {"doctor": doctor, "on_call": True})
    await db.commit(setup)

    from convexpy.values.ids import DocumentId

    reader, writer = db.begin(writable=True), db.begin(writable=True)
    scan = reader.scan(table.by_creation_time, Interval(b"", None))
    first = await scan.next()  # abandoned here, as `async for ... break` leaves a generator
    await reader.insert(log, {"saw": first["on_call"]})
    internal_id = DocumentId.decode(first["_id"]).internal_id
    await writer.replace(table, internal_id, {**(await writer.get(table, internal_id)), "on_call": False})
    await db.commit(writer)
    with pytest.raises(ConflictError):
        await db.commit(reader)


async def test_documents_handed_out_are_copies(db):
    table = await db.ensure_table("things")
    setup = db.begin(writable=True)
    doc_id = await setup.insert(table, {"tags": ["a"]})
    await db.commit(setup)
    from convexpy.values.ids import DocumentId

    internal_id = DocumentId.decode(doc_id).internal_id
    tx = db.begin(writable=True)
    fetched = await tx.get(table, internal_id)
    fetched["tags"].append("edited in place")
    assert (await tx.get(table, internal_id))["tags"] == ["a"]
    await tx.replace(table, internal_id, {**fetched, "tags": ["b"]})
    pending = await tx.get(table, internal_id)
    pending["tags"].append("edited again")
    assert (await tx.get(table, internal_id))["tags"] == ["b"]
