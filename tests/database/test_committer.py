"""The committer survives whatever one batch does: callers that go away, requests PostgreSQL refuses."""

from __future__ import annotations

import asyncio

import pytest

from convexpy.database import Database
from convexpy.database.committer import SessionRecord
from convexpy.database.readset import Interval
from convexpy.errors import DuplicateSessionRequest


@pytest.fixture
async def db(fresh_database):
    database = await Database.open(fresh_database, pool_size=4, follow=False)
    yield database
    await database.close()


def insert(table, tag):
    async def body(tx):
        await tx.insert(table, {"tag": tag})
        return tag

    return body


async def tags(db, table) -> list[str]:
    scan = db.begin(writable=False).scan(table.by_creation_time, Interval(b"", None))
    try:
        return sorted([doc["tag"] async for doc in scan])
    finally:
        scan.close()


async def test_a_caller_that_went_away_does_not_stop_the_committer(db):
    table = await db.ensure_table("things")
    gone = asyncio.create_task(db.run_mutation(insert(table, "gone")))
    await asyncio.sleep(0)  # queued; its caller now goes away, as a closed socket's task does
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)

    _, commit_ts = await asyncio.wait_for(db.run_mutation(insert(table, "after")), 10)
    assert commit_ts > 0
    assert db.problems() == []
    assert "after" in await tags(db, table)


async def test_a_request_postgres_refuses_fails_alone(db):
    table = await db.ensure_table("things")

    def record(request_id):
        return lambda result: SessionRecord("session-1", request_id, b'"x"', [])

    # Three commits in one batch; the second and third repeat a (session, request id) pair.
    results = await asyncio.gather(
        db.run_mutation(insert(table, "a"), record=record(1)),
        db.run_mutation(insert(table, "b"), record=record(2)),
        db.run_mutation(insert(table, "c"), record=record(2)),
        return_exceptions=True,
    )
    assert results[0][0] == "a"
    outcomes = sorted(type(result).__name__ for result in results[1:])
    assert outcomes == ["DuplicateSessionRequest", "tuple"]
    refused = next(result for result in results if isinstance(result, DuplicateSessionRequest))
    assert refused.message == (
        "Mutation request 2 of session session-1 was already applied; request ids must not repeat within a session. "
        "Nothing was applied this time."
    )
    assert len(await tags(db, table)) == 2  # the refused one left nothing behind
    assert db.problems() == []


async def test_the_follower_survives_an_unexpected_error_and_is_ready_again(fresh_database, monkeypatch):
    database = await Database.open(fresh_database, pool_size=4, settings=None, follower_poll_s=0.05)
    try:
        real_catch_up = database.catch_up
        failures = []

        async def failing_once() -> None:
            if not failures:
                failures.append(1)
                raise KeyError("a bug while applying commits")
            await real_catch_up()

        monkeypatch.setattr(database, "catch_up", failing_once)
        for _ in range(200):
            if failures and database.ready:
                break
            await asyncio.sleep(0.05)
        assert failures and database.ready and database.problems() == []
    finally:
        await database.close()


async def test_the_exclusive_attempt_times_the_function_only_and_applies_nothing_when_it_runs_long(fresh_database):
    from convexpy.errors import Overloaded

    database = await Database.open(fresh_database, pool_size=4, follow=False, mutation_retries=0, exclusive_timeout_s=0.1)
    try:
        table = await database.ensure_table("things")

        async def slow(tx):
            await tx.insert(table, {"tag": "slow"})
            await asyncio.sleep(0.5)

        with pytest.raises(Overloaded, match=r"ran longer than 0.1 s\. Nothing was applied; try again\."):
            await database.run_mutation(slow)
        _, commit_ts = await database.run_mutation(insert(table, "quick"))  # the exclusive lane is free again
        assert commit_ts > 0
        assert await tags(database, table) == ["quick"]
    finally:
        await database.close()
