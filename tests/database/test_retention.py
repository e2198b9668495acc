"""Retention keeps the revision count bounded under repeated updates, and never deletes
what a snapshot inside the window can read."""

from __future__ import annotations

import pytest

from convexpy.database import Database
from convexpy.database.retention import RetentionJob
from convexpy.values.ids import DocumentId


@pytest.fixture
async def db(fresh_database):
    database = await Database.open(fresh_database, pool_size=4, follow=False)
    yield database
    await database.close()


async def revision_counts(db) -> tuple[int, int, int]:
    async with db.persistence.pool.acquire() as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM cx_documents"),
            await conn.fetchval("SELECT count(*) FROM cx_indexes"),
            await conn.fetchval("SELECT count(*) FROM cx_commits"),
        )


async def update_all(db, table, internal_ids, n: float) -> None:
    async def body(tx):
        for internal_id in internal_ids:
            document = await tx.get(table, internal_id)
            await tx.replace(table, internal_id, {**document, "n": n})

    await db.run_mutation(body)


async def test_revisions_stay_bounded_under_repeated_updates(db):
    table = await db.ensure_table("counters")
    setup = db.begin(writable=True)
    ids = [DocumentId.decode(await setup.insert(table, {"n": 0.0})).internal_id for _ in range(5)]
    await db.commit(setup)
    job = RetentionJob(db, window_s=3600)

    sizes = []
    for round_number in range(1, 6):
        for step in range(20):
            await update_all(db, table, ids, float(round_number * 100 + step))
        await job.run_once(db.latest_ts)
        sizes.append(await revision_counts(db))
    # After each pass exactly one revision per document (5), one entry per index key
    # (5 by_id + 5 by_creation_time), and no commit log rows, however many updates came before.
    assert sizes == [(5, 10, 0)] * 5

    tx = db.begin(writable=False)
    assert sorted([(await tx.get(table, internal_id))["n"] for internal_id in ids]) == [519.0] * 5


async def test_snapshots_inside_the_window_still_read_their_revisions(db):
    table = await db.ensure_table("counters")
    setup = db.begin(writable=True)
    internal_id = DocumentId.decode(await setup.insert(table, {"n": 1.0})).internal_id
    await db.commit(setup)
    old_snapshot = db.begin(writable=False)
    await update_all(db, table, [internal_id], 2.0)
    cutoff = db.latest_ts - 1  # the update is after the cutoff: the old revision must stay
    await RetentionJob(db, window_s=3600).run_once(cutoff)
    assert (await old_snapshot.get(table, internal_id))["n"] == 1.0
    assert (await db.begin(writable=False).get(table, internal_id))["n"] == 2.0


async def test_deleted_documents_leave_nothing_behind(db):
    table = await db.ensure_table("counters")
    setup = db.begin(writable=True)
    internal_id = DocumentId.decode(await setup.insert(table, {"n": 1.0})).internal_id
    await db.commit(setup)

    async def delete(tx):
        await tx.delete(table, internal_id)

    await db.run_mutation(delete)
    await RetentionJob(db, window_s=3600).run_once(db.latest_ts)
    assert await revision_counts(db) == (0, 0, 0)


async def test_reads_older_than_the_window_are_refused(db):
    from convexpy.errors import OutOfRetention

    table = await db.ensure_table("counters")
    setup = db.begin(writable=True)
    await setup.insert(table, {"n": 1.0})
    await db.commit(setup)
    db.retention_window_ns = 1
    assert await db.begin(writable=False).get(table, b"\x00" * 16) is None  # the latest snapshot is always readable
    with pytest.raises(OutOfRetention, match="older than the retention window"):
        await db.begin(writable=False, snapshot_ts=db.latest_ts - 1).get(table, b"\x00" * 16)
