"""File bodies: one interface for every place they can live, beside the document persistence.

File storage (``_storage`` documents, upload URLs, ``ctx.storage``) keeps its
metadata in the commit log like any row; the bytes go to a :class:`BlobStore`.
Bodies are streamed both ways, never held whole in memory: :meth:`BlobStore.put`
takes an async iterable of chunks (an upload's body as it arrives) and
computes size and sha256 on the way; :meth:`BlobStore.read` yields chunks,
optionally of one byte range (a ``Range`` request). A put is atomic: a reader
sees the whole blob or none of it, and a put that fails or passes its size
limit leaves nothing behind.

:class:`DiskBlobStore` keeps blobs in a folder (the data folder by default);
an S3-compatible store implements the same interface.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterable, AsyncIterator, Protocol

from ..errors import PayloadTooLarge

READ_CHUNK = 256 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


@dataclass(frozen=True, slots=True)
class StoredBlob:
    key: str
    size: int
    sha256: str
    """Base64 of the SHA-256 digest, as Convex's ``_storage`` documents carry it."""


class BlobStore(Protocol):
    async def put(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None) -> StoredBlob:
        """Store the bytes of ``chunks`` under ``key``; :class:`PayloadTooLarge` past ``max_bytes``."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, end)`` of the blob (``end`` None: to its end), in chunks."""

    async def size(self, key: str) -> int | None:
        """The blob's size, or None if there is no such blob."""

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing one is not an error."""


def check_key(key: str) -> str:
    """Blob keys are opaque tokens chosen by the server: anything else (a path) is refused."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class DiskBlobStore:
    """Blobs as files under ``root`` (``root/ab/<key>``), written to a temporary file and renamed."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._incoming = self.root / ".incoming"

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None) -> StoredBlob:
        path = self._path(key)
        await asyncio.to_thread(self._incoming.mkdir, parents=True, exist_ok=True)
        temporary = self._incoming / f"{key}.{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(open, temporary, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise PayloadTooLarge(f"The file is too large (limit: {max_bytes} bytes)")
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_flush, handle)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(_remove, temporary)
            raise
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(os.replace, temporary, path)
        return StoredBlob(key, size, base64.b64encode(digest.digest()).decode())

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        handle = await asyncio.to_thread(open, path, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                want = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(_remove, self._path(key))


def _flush(handle) -> None:  # noqa: ANN001 - a binary file object
    handle.flush()
    os.fsync(handle.fileno())


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
