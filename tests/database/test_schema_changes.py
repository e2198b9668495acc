"""Schema changes are commits: an index built while writes go on is exact, and a transaction that
began before the change runs again with the new index instead of skipping it."""

from __future__ import annotations

import asyncio
import random

import pytest

from convexpy import define_schema, define_table, v
from convexpy.database import Database
from convexpy.database.readset import Interval
from convexpy.errors import ConflictError
from convexpy.values.ids import DocumentId


@pytest.fixture
async def db(fresh_database):
    database = await Database.open(fresh_database, pool_size=8)
    yield database
    await database.close()


def with_index():
    return define_schema({"things": define_table({"n": v.number()}).index("by_n", ["n"])})


async def scan(db, index) -> list[str]:
    tx = db.begin(writable=False)
    found = tx.scan(index, Interval(b"", None))
    try:
        return [document["_id"] async for document in found]
    finally:
        found.close()


async def test_a_transaction_prepared_before_an_index_existed_conflicts_with_its_creation(db):
    await db.schemas.push(define_schema({"things": define_table({"n": v.number()})}))
    table = db.catalog.by_name["things"]
    early = db.begin(writable=True)
    await early.insert(table, {"n": 1.0})  # its index writes were prepared without by_n
    await db.schemas.push(with_index())
    with pytest.raises(ConflictError):
        await db.commit(early)


async def test_an_index_built_under_concurrent_writes_matches_the_table(db):
    await db.schemas.push(define_schema({"things": define_table({"n": v.number()})}))
    table = db.catalog.by_name["things"]
    setup = db.begin(writable=True)
    ids = [await setup.insert(table, {"n": float(n)}) for n in range(300)]
    await db.commit(setup)
    stop = asyncio.Event()
    rng = random.Random(7)

    async def writer() -> None:
        while not stop.is_set():
            async def body(tx):
                live_table = db.catalog.by_name["things"]
                choice = rng.random()
                if choice < 0.4:
                    ids.append(await tx.insert(live_table, {"n": rng.random() * 1000}))
                elif ids:
                    internal_id = DocumentId.decode(rng.choice(ids)).internal_id
                    current = await tx.get(live_table, internal_id)
                    if current is None:
                        return
                    if choice < 0.8:
                        await tx.replace(live_table, internal_id, {**current, "n": rng.random() * 1000})
                    else:
                        await tx.delete(live_table, internal_id)

            await db.run_mutation(body)

    writers = [asyncio.create_task(writer()) for _ in range(4)]
    await asyncio.sleep(0.05)
    await db.schemas.push(with_index())
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*writers)

    by_n = db.catalog.by_name["things"].indexes["by_n"]
    by_creation = db.catalog.by_name["things"].by_creation_time
    assert sorted(await scan(db, by_n)) == sorted(await scan(db, by_creation))


async def test_a_staged_index_is_built_while_the_old_schema_serves_then_goes_live_with_the_push(db):
    plain = define_schema({"things": define_table({"n": v.number()})})
    await db.schemas.push(plain)
    table = db.catalog.by_name["things"]
    setup = db.begin(writable=True)
    for n in range(2500):
        await setup.insert(table, {"n": float(n)})
    await db.commit(setup)

    staged = await db.schemas.stage(with_index())
    assert staged == ["things.by_n"]
    assert db.schema.fingerprint() == plain.fingerprint()  # the old schema still serves
    assert db.schemas.progress(staged) in ((0, 1), (1, 1))
    while db.schemas.progress(staged) != (1, 1):
        await asyncio.sleep(0.05)
    by_n = db.catalog.by_name["things"].indexes["by_n"]
    assert len(await scan(db, by_n)) == 2500  # backfilled, every document once
    assert db.schemas.progress(["things.by_missing"]) is None  # an index no staging made: a race

    written: list[int] = []

    async def code(tx):
        written.append(await tx.insert(db.catalog.by_name["things"], {"n": -1.0}) is not None)

    await db.schemas.push(with_index(), writes=code)
    assert db.schema.fingerprint() == with_index().fingerprint() and written == [True]
    assert db.catalog.by_name["things"].indexes["by_n"].id == by_n.id  # taken up, not rebuilt


async def test_a_staged_index_no_push_takes_up_is_dropped_by_the_next_schema_change(db):
    plain = define_schema({"things": define_table({"n": v.number()})})
    await db.schemas.push(plain)
    await db.schemas.stage(with_index())
    await db.schemas.stop()  # the build abandoned: the next change must cope with a half-built index
    other = define_schema({"things": define_table({"n": v.number(), "m": v.optional(v.number())})})
    await db.schemas.push(other)
    table = db.catalog.by_name["things"]
    assert "by_n" not in table.indexes and not any(index.name == "by_n" for index in table.building.values())
