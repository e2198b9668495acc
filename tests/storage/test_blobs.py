"""The disk blob store: streamed in and out, atomic, size-limited, sha256 as Convex records it."""

from __future__ import annotations

import base64
import hashlib

import pytest

from convexpy.errors import PayloadTooLarge
from convexpy.storage.blobs import DiskBlobStore


async def chunks_of(data: bytes, size: int = 100_000):
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(store, key, start=0, end=None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


async def test_a_blob_round_trips_in_chunks_with_its_size_and_sha256(tmp_path):
    store = DiskBlobStore(tmp_path)
    data = bytes(range(256)) * 4000  # 1 MB, several read chunks
    stored = await store.put("kg2abc123def456", chunks_of(data))
    assert stored.size == len(data)
    assert stored.sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert await read_all(store, "kg2abc123def456") == data
    assert await read_all(store, "kg2abc123def456", 1000, 1010) == data[1000:1010]
    assert await read_all(store, "kg2abc123def456", len(data) - 5) == data[-5:]
    assert await store.size("kg2abc123def456") == len(data)


async def test_a_put_past_its_limit_stores_nothing(tmp_path):
    store = DiskBlobStore(tmp_path)
    with pytest.raises(PayloadTooLarge, match=r"The file is too large \(limit: 150000 bytes\)"):
        await store.put("toolarge0001", chunks_of(b"x" * 300_000), max_bytes=150_000)
    assert await store.size("toolarge0001") is None
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


async def test_delete_and_keys_that_are_not_tokens(tmp_path):
    store = DiskBlobStore(tmp_path)
    await store.put("deleteme0001", chunks_of(b"bytes"))
    await store.delete("deleteme0001")
    await store.delete("deleteme0001")  # a missing blob is not an error
    assert await store.size("deleteme0001") is None
    for key in ("../../etc/passwd", "a/b", "short", ""):
        with pytest.raises(ValueError, match="invalid blob key"):
            await store.size(key)
