"""The versioned log on real PostgreSQL: snapshot reads see exactly the commits at or before them."""

from __future__ import annotations

import pytest

from convexpy.database.committer import CommitRequest
from convexpy.database.readset import ReadSet, SortedKeys
from convexpy.storage.postgres import DocumentWrite, IndexWrite, Persistence, pack_write_set, unpack_write_set


@pytest.fixture
async def persistence(fresh_database):
    store = await Persistence.connect(fresh_database, max_size=4)
    yield store
    await store.close()


async def commit(store: Persistence, ts: int, key: bytes, doc_id: bytes, value: bytes | None):
    request = CommitRequest(0, ReadSet(), [DocumentWrite(10001, doc_id, value, None)],
                            [IndexWrite(1, key, None if value is None else doc_id)], SortedKeys([(1, key)]))
    async with store.pool.acquire() as conn:
        assert await store.write_commits(conn, [(ts, request)], await store.read_clock())


async def test_snapshot_reads_pick_the_revision_at_their_timestamp(persistence):
    await commit(persistence, 10, b"k1", b"d1", b'{"v":1}')
    await commit(persistence, 20, b"k1", b"d1", b'{"v":2}')
    await commit(persistence, 30, b"k1", b"d1", None)

    async def read(ts):
        rows = await persistence.index_range(1, 10001, b"", None, ts, 10)
        return [row.value for row in rows]

    assert await read(5) == []
    assert await read(10) == [b'{"v":1}']
    assert await read(25) == [b'{"v":2}']
    assert await read(30) == []


async def test_a_commit_written_against_a_moved_clock_writes_nothing(persistence):
    await commit(persistence, 10, b"k1", b"d1", b'{"v":1}')
    request = CommitRequest(0, ReadSet(), [DocumentWrite(10001, b"d2", b'{"v":2}', None)], [IndexWrite(1, b"k2", b"d2")],
                            SortedKeys([(1, b"k2")]))
    async with persistence.pool.acquire() as conn:
        assert not await persistence.write_commits(conn, [(20, request)], 5)  # another replica moved the clock to 10
    assert await persistence.read_clock() == 10
    assert [row.key for row in await persistence.index_range(1, 10001, b"", None, 100, 10)] == [b"k1"]
    assert await persistence.commits_since(10) == []


async def test_ranges_respect_bounds_order_and_limit(persistence):
    for n, key in enumerate([b"a", b"b", b"c", b"d"]):
        await commit(persistence, 100 + n, key, key * 16, b"{}")
    rows = await persistence.index_range(1, 10001, b"b", b"d", 1000, 10)
    assert [row.key for row in rows] == [b"b", b"c"]
    rows = await persistence.index_range(1, 10001, b"", None, 1000, 2, descending=True)
    assert [row.key for row in rows] == [b"d", b"c"]


async def test_commit_log_roundtrip(persistence):
    keys = [(1, b"x"), (7, b""), (2, bytes(range(256)))]
    assert unpack_write_set(pack_write_set(keys)) == keys
    await commit(persistence, 50, b"k", b"i" * 16, b"{}")
    assert await persistence.commits_since(0) == [(50, [(1, b"k")])]
    assert await persistence.read_clock() == 50
    assert await persistence.committed(50, [(1, b"k")])
    assert not await persistence.committed(51, [(1, b"k")])
    assert not await persistence.committed(50, [(1, b"other")])  # another replica's commit at the same ts


async def test_schema_creation_is_idempotent(persistence):
    await persistence.create_schema()
    first = await persistence.create_table("things")
    assert first == 10001
    assert await persistence.create_table("things") == first
    assert await persistence.create_table("others") == 10002


@pytest.mark.parametrize("descending", [False, True])
async def test_newest_version_per_key_in_both_directions(persistence, descending):
    # a: two revisions; b: revised then deleted; c: one revision; d: created after the snapshot.
    await commit(persistence, 10, b"a", b"A" * 16, b'{"a":1}')
    await commit(persistence, 11, b"b", b"B" * 16, b'{"b":1}')
    await commit(persistence, 12, b"c", b"C" * 16, b'{"c":1}')
    await commit(persistence, 13, b"a", b"A" * 16, b'{"a":2}')
    await commit(persistence, 14, b"b", b"B" * 16, b'{"b":2}')
    await commit(persistence, 15, b"b", b"B" * 16, None)
    await commit(persistence, 17, b"d", b"D" * 16, b'{"d":1}')
    rows = await persistence.index_range(1, 10001, b"", None, 16, 10, descending)
    expected = [(b"a", b'{"a":2}'), (b"c", b'{"c":1}')]
    assert [(row.key, row.value) for row in rows] == (expected[::-1] if descending else expected)
    first = await persistence.index_range(1, 10001, b"", None, 14, 1, descending)
    expected_first = (b"c", b'{"c":1}') if descending else (b"a", b'{"a":2}')
    assert [(row.key, row.value) for row in first] == [expected_first]
    middle = await persistence.index_range(1, 10001, b"b", b"c", 14, 5, descending)
    assert [(row.key, row.value) for row in middle] == [(b"b", b'{"b":2}')]
