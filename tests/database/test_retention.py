"""Retention keeps the revision count bounded under repeated updates, and never deletes
what a snapshot inside the window can read."""

from __future__ import annotations

import pytest

from convexpy.database import Database
from convexpy.database.retention import RetentionJob
from convexpy.errors import OutOfRetention
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


async def test_snapshots_at_or_after_the_cutoff_still_read_their_revisions(db):
    table = await db.ensure_table("counters")
    setup = db.begin(writable=True)
    internal_id = DocumentId.decode(await setup.insert(table, {"n": 1.0})).internal_id
    old_ts = await db.commit(setup)
    old_snapshot = db.begin(writable=False)
    await update_all(db, table, [internal_id], 2.0)
    await RetentionJob(db, window_s=3600).run_once(old_ts)  # the update is after the cutoff: the old revision stays
    assert (await old_snapshot.get(table, internal_id))["n"] == 1.0
    assert (await db.begin(writable=False).get(table, internal_id))["n"] == 2.0


async def test_a_snapshot_behind_the_cutoff_is_refused_not_answered_wrong(db):
    table = await db.ensure_table("counters")
    setup = db.begin(writable=True)
    internal_id = DocumentId.decode(await setup.insert(table, {"n": 1.0})).internal_id
    await db.commit(setup)
    old_snapshot = db.begin(writable=False)
    await update_all(db, table, [internal_id], 2.0)
    await RetentionJob(db, window_s=3600).run_once(db.latest_ts)  # the old revision is deleted
    with pytest.raises(OutOfRetention, match=r"older than the retention horizon \(\d+\): its revisions may be deleted"):
        await old_snapshot.get(table, internal_id)  # before the horizon existed: None, as if never inserted
    assert (await db.begin(writable=False).get(table, internal_id))["n"] == 2.0  # the latest snapshot reads


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


async def test_a_lagging_replica_retries_instead_of_missing_a_document(fresh_database):
    """A replica that applied nothing for a while (paused, slow) reads at an old snapshot; once retention
    cut past it, its mutation must not fail with "nonexistent document" but run again at a fresh one."""
    ahead = await Database.open(fresh_database, pool_size=4, follow=False)
    behind = await Database.open(fresh_database, pool_size=4, follow=False, cache_mb=0)
    try:
        table = await behind.ensure_table("counters")
        setup = behind.begin(writable=True)
        internal_id = DocumentId.decode(await setup.insert(table, {"n": 1.0})).internal_id
        await behind.commit(setup)
        await ahead.catch_up()
        await update_all(ahead, ahead.catalog.by_name["counters"], [internal_id], 2.0)
        await RetentionJob(ahead, window_s=3600).run_once(ahead.latest_ts)  # behind's snapshot is now past

        async def increment(tx):
            document = await tx.get(table, internal_id)
            if document is None:
                raise LookupError("Update on nonexistent document ID")
            await tx.replace(table, internal_id, {**document, "n": document["n"] + 1})
            return document["n"]

        seen, _ = await behind.run_mutation(increment)
        assert seen == 2.0
    finally:
        await behind.close()
        await ahead.close()


async def test_a_commit_after_the_log_was_cut_is_validated_not_written_blind(fresh_database):
    """The committer's catch-up finds the commit log cut past what this replica applied: it cannot
    check the transaction against the missing commits, so the transaction conflicts (and is retried)."""
    from convexpy.errors import ConflictError

    ahead = await Database.open(fresh_database, pool_size=4, follow=False)
    behind = await Database.open(fresh_database, pool_size=4, follow=False)
    try:
        table = await behind.ensure_table("counters")
        setup = behind.begin(writable=True)
        internal_id = DocumentId.decode(await setup.insert(table, {"n": 1.0})).internal_id
        await behind.commit(setup)
        tx = behind.begin(writable=True)
        document = await tx.get(table, internal_id)  # reads n = 1 ...
        await ahead.catch_up()
        await update_all(ahead, ahead.catalog.by_name["counters"], [internal_id], 2.0)  # ... which becomes 2
        await RetentionJob(ahead, window_s=3600).run_once(ahead.latest_ts)  # and the log of that is deleted
        await tx.replace(table, internal_id, {**document, "n": document["n"] + 10})
        with pytest.raises(ConflictError):
            await behind.commit(tx)
    finally:
        await behind.close()
        await ahead.close()
