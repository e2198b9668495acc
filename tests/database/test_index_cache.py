"""The index cache: hits cost no PostgreSQL round trip, and no read ever returns a stale or
too-new version, whichever replica wrote."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from convexpy.database import Database
from convexpy.database.readset import Interval
from convexpy.values import json as cjson
from convexpy.values import sortkey
from convexpy.values.ids import DocumentId


class CountingPersistence:
    """Counts how often reads reach PostgreSQL."""

    def __init__(self, db: Database):
        self.calls = 0
        original = db.persistence.index_range

        async def counted(*args, **kwargs):
            self.calls += 1
            return await original(*args, **kwargs)

        db.persistence.index_range = counted  # type: ignore[method-assign]


async def open_replica(dsn: str, **options) -> Database:
    return await Database.open(dsn, pool_size=6, cache_mb=16, **options)


async def by_sid(tx, table, index, sid: str) -> list[dict]:
    prefix = sortkey.encode(sid)
    scan = tx.scan(index, Interval(prefix, sortkey.successor(prefix)), size_hint=2)
    try:
        return [doc async for doc in scan]
    finally:
        scan.close()


async def services_table(db: Database):
    table = await db.ensure_table("services")
    index_id, _ = await db.persistence.create_index(table.number, "by_sid", ["sid"])
    return table, db.catalog.add_index(index_id, table.number, "by_sid", ["sid"])


@pytest.fixture
async def setup(fresh_database):
    db = await open_replica(fresh_database)
    yield db, *await services_table(db)
    await db.close()


@pytest.fixture
async def solo(fresh_database):
    """A replica that follows no commit log: only its own commits reach it. (A following replica
    may learn of its own commit from the log first, under load, and then drops entries instead of
    patching them: right, but not what these tests count.)"""
    db = await open_replica(fresh_database, follow=False)
    yield db, *await services_table(db)
    await db.close()


async def test_repeated_point_and_prefix_reads_hit_the_cache(solo):
    db, table, index = solo
    tx = db.begin(writable=True)
    doc_id = await tx.insert(table, {"sid": "abc12345"})
    await db.commit(tx)
    counter = CountingPersistence(db)
    internal_id = DocumentId.decode(doc_id).internal_id
    for _ in range(5):
        reader = db.begin(writable=False)
        assert (await reader.get(table, internal_id))["sid"] == "abc12345"
        assert [doc["_id"] for doc in await by_sid(reader, table, index, "abc12345")] == [doc_id]
        assert await by_sid(reader, table, index, "missing1") == []
    assert counter.calls == 3  # one miss each for the point read, the sid range and the empty range
    # this replica's own writes patch the entries they touch: still no round trip, new values
    old_snapshot = db.begin(writable=False)
    writer = db.begin(writable=True)
    await writer.replace(table, internal_id, {**await writer.get(table, internal_id), "sid": "abc12345", "n": 1.0})
    second_id = await writer.insert(table, {"sid": "missing1"})
    await db.commit(writer)
    reader = db.begin(writable=False)
    assert (await reader.get(table, internal_id))["n"] == 1.0
    assert (await by_sid(reader, table, index, "abc12345"))[0]["n"] == 1.0
    assert [doc["_id"] for doc in await by_sid(reader, table, index, "missing1")] == [second_id]
    assert counter.calls == 3
    # a snapshot from before the write must not see the patched entries
    assert "n" not in (await by_sid(old_snapshot, table, index, "abc12345"))[0]
    assert counter.calls == 4
    # a delete patches the entries out
    deleter = db.begin(writable=True)
    await deleter.delete(table, DocumentId.decode(second_id).internal_id)
    await db.commit(deleter)
    assert await by_sid(db.begin(writable=False), table, index, "missing1") == []
    assert counter.calls == 5  # the delete read the new document (never cached); the range was patched


async def test_old_snapshots_do_not_read_newer_cache_entries(setup):
    db, table, index = setup
    tx = db.begin(writable=True)
    await tx.insert(table, {"sid": "s1"})
    await db.commit(tx)
    old = db.begin(writable=False)
    tx = db.begin(writable=True)
    await tx.insert(table, {"sid": "s1"})
    await db.commit(tx)
    assert len(await by_sid(db.begin(writable=False), table, index, "s1")) == 2  # fills the cache at the new ts
    assert len(await by_sid(old, table, index, "s1")) == 1


async def test_hammered_key_two_replicas_every_read_matches_its_snapshot(fresh_database, setup):
    db_a, table, index = setup
    db_b = await open_replica(fresh_database)
    table_b = await db_b.ensure_table("services")
    try:
        tx = db_a.begin(writable=True)
        doc_id = await tx.insert(table, {"sid": "hot00001", "n": 0.0})
        await db_a.commit(tx)
        internal_id = DocumentId.decode(doc_id).internal_id
        await db_b.wait_for_ts(db_a.latest_ts)
        observed: list[tuple[int, float | None, str]] = []
        stop = asyncio.Event()

        async def writer(db: Database, tbl, step: float) -> None:
            n = 0
            while not stop.is_set():
                n += 1

                async def body(tx):
                    doc = await tx.get(tbl, internal_id)
                    await tx.replace(tbl, internal_id, {**doc, "n": doc["n"] + step})

                await db.run_mutation(body)
                await asyncio.sleep(random.uniform(0, 0.004))

        async def reader(db: Database, tbl, idx, how: str) -> None:
            while not stop.is_set():
                tx = db.begin(writable=False)
                if how == "get":
                    doc = await tx.get(tbl, internal_id)
                else:
                    found = await by_sid(tx, tbl, idx, "hot00001")
                    doc = found[0] if found else None
                observed.append((tx.snapshot_ts, None if doc is None else doc["n"], how))
                await asyncio.sleep(random.uniform(0, 0.002))

        index_b = db_b.catalog.by_name["services"].indexes["by_sid"]
        tasks = [
            asyncio.create_task(writer(db_a, table, 1.0)),
            asyncio.create_task(writer(db_b, table_b, 1000.0)),
            asyncio.create_task(reader(db_a, table, index, "get")),
            asyncio.create_task(reader(db_a, table, index, "range")),
            asyncio.create_task(reader(db_b, table_b, index_b, "get")),
            asyncio.create_task(reader(db_b, table_b, index_b, "range")),
        ]
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        await db_b.close()

    direct = await asyncpg.connect(fresh_database)
    try:
        history = await direct.fetch(
            "SELECT ts, value FROM cx_documents WHERE table_number = $1 AND id = $2 ORDER BY ts", table.number, internal_id
        )
    finally:
        await direct.close()
    versions = [(row["ts"], cjson.loads(row["value"])["n"]) for row in history]
    assert len(versions) > 50 and len(observed) > 200
    for snapshot_ts, value, how in observed:
        expected = [n for ts, n in versions if ts <= snapshot_ts][-1]
        assert value == expected, f"{how} at {snapshot_ts} returned {value}, the snapshot holds {expected}"


async def test_eviction_keeps_the_budget_and_results_right(fresh_database):
    db = await Database.open(fresh_database, pool_size=4, follow=False, cache_mb=0.05)
    try:
        table = await db.ensure_table("t")
        tx = db.begin(writable=True)
        ids = [DocumentId.decode(await tx.insert(table, {"pad": "x" * 500, "n": float(n)})).internal_id for n in range(200)]
        await db.commit(tx)
        for _ in range(2):
            reader = db.begin(writable=False)
            for n, internal_id in enumerate(ids):
                assert (await reader.get(table, internal_id))["n"] == n
            assert db.cache.size_bytes <= db.cache.budget_bytes
            assert 0 < len(db.cache) < len(ids)
    finally:
        await db.close()


async def test_newest_of_a_feed_stays_cached_across_this_replicas_inserts(fresh_database):
    db = await open_replica(fresh_database, follow=False)  # see the solo fixture
    try:
        table = await db.ensure_table("events")
        index_id, _ = await db.persistence.create_index(table.number, "by_channel_n", ["channel", "n"])
        index = db.catalog.add_index(index_id, table.number, "by_channel_n", ["channel", "n"])
        prefix = sortkey.encode("c1")
        feed = Interval(prefix, sortkey.successor(prefix))

        async def first_rows(tx, count: int, descending: bool) -> list[float]:
            scan = tx.scan(index, feed, descending=descending, size_hint=count)
            try:
                found = []
                async for doc in scan:
                    found.append(doc["n"])
                    if len(found) == count:
                        return found
                return found
            finally:
                scan.close()

        async def insert(n: float) -> None:
            tx = db.begin(writable=True)
            await tx.insert(table, {"channel": "c1", "n": n})
            await db.commit(tx)

        for n in range(10):
            await insert(float(n))
        counter = CountingPersistence(db)
        assert await first_rows(db.begin(writable=False), 1, True) == [9.0]
        assert await first_rows(db.begin(writable=False), 3, False) == [0.0, 1.0, 2.0]
        assert counter.calls == 2
        before = db.begin(writable=False)
        await insert(10.0)  # newest: joins the descending entry, is past the ascending one
        await insert(1.5)  # inside the ascending entry's rows
        assert await first_rows(db.begin(writable=False), 1, True) == [10.0]
        assert await first_rows(db.begin(writable=False), 3, False) == [0.0, 1.0, 1.5]
        assert counter.calls == 2
        assert await first_rows(before, 1, True) == [9.0]  # an older snapshot must not see the patch
        assert await first_rows(before, 3, False) == [0.0, 1.0, 2.0]
        assert counter.calls == 4
    finally:
        await db.close()
