"""The committer: validates transactions and writes them, in one total order.

Protocol (DESIGN.md section 4), per batch of transactions queued together:

1. Open a PostgreSQL transaction and lock the clock row. That lock orders
   every commit of every replica.
2. Bring the write log up to the clock with the commit log rows other replicas
   wrote, then check each transaction's read set against every write after its
   snapshot, including the writes of earlier transactions in the same batch.
   A conflicting transaction is rejected with :class:`ConflictError` and will
   be retried by its caller at a fresh snapshot.
3. Give the survivors timestamps ``max(clock + 1, now_ns)`` upward, insert
   their rows, move the clock, commit. Only then resolve their futures: a
   client is never told of a commit that PostgreSQL does not hold.

Batching (group commit) means one PostgreSQL round trip carries many commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

import asyncpg

from ..errors import ConflictError, Overloaded
from ..server.metrics import METRICS
from ..storage.postgres import DocumentWrite, IndexWrite, Persistence, pack_write_set
from .readset import ReadSet, SortedKeys
from .writelog import WriteLog

logger = logging.getLogger(__name__)
MAX_BATCH = 128


@dataclass(slots=True)
class SessionRecord:
    """A WebSocket mutation's outcome, stored with its writes so a re-sent request is not re-run."""

    session_id: str
    request_id: int
    result: bytes
    log_lines: list[str]


@dataclass(slots=True)
class CommitRequest:
    snapshot_ts: int
    read_set: ReadSet
    documents: list[DocumentWrite]
    index_writes: list[IndexWrite]
    written: SortedKeys
    session_record: SessionRecord | None = None
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]

CommitListener = Callable[[int, SortedKeys], None]
"""Called with ``(commit_ts, written_keys)`` for every commit, in ts order, once it is durable."""


class Committer:
    def __init__(self, persistence: Persistence, write_log: WriteLog, on_commit: CommitListener):
        self.persistence = persistence
        self.write_log = write_log
        self.on_commit = on_commit
        self._queue: asyncio.Queue[CommitRequest] = asyncio.Queue()
        self._gate = asyncio.Lock()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="convexpy-committer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def commit(self, request: CommitRequest) -> int:
        """Queue ``request``; return its commit ts, or raise :class:`ConflictError`."""
        request.future = asyncio.get_running_loop().create_future()
        await self._queue.put(request)
        return await request.future

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[Callable[[CommitRequest], "asyncio.Future[int]"]]:
        """Hold off every other commit on this replica while the caller runs and commits.

        The last retry of a mutation that keeps losing races runs here, so a
        hot key cannot starve it (other replicas can still conflict with it).
        """
        async with self._gate:
            yield self._commit_now

    async def _commit_now(self, request: CommitRequest) -> int:
        request.future = asyncio.get_running_loop().create_future()
        await self._commit_batch([request])
        return await request.future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            async with self._gate:
                await self._commit_batch(batch)

    async def _catch_up(self, conn: asyncpg.Connection, clock_ts: int) -> None:
        if clock_ts > self.write_log.max_ts:
            for ts, keys in await self.persistence.commits_since(self.write_log.max_ts, conn):
                written = SortedKeys(keys)
                self.write_log.append(ts, written)
                self.on_commit(ts, written)

    async def _commit_batch(self, batch: list[CommitRequest]) -> None:
        accepted: list[tuple[CommitRequest, int]] = []
        try:
            async with self.persistence.pool.acquire() as conn:
                async with conn.transaction():
                    clock_ts = await conn.fetchval("SELECT ts FROM cx_clock WHERE id = 1 FOR UPDATE")
                    await self._catch_up(conn, clock_ts)
                    next_ts = max(clock_ts + 1, time.time_ns())
                    for request in batch:
                        if self.write_log.conflicts(request.read_set, request.snapshot_ts) or any(
                            earlier.written.intersects(request.read_set) for earlier, _ in accepted
                        ):
                            METRICS.conflicts_total += 1
                            request.future.set_exception(ConflictError("a concurrent commit changed what this transaction read"))
                            continue
                        await self.persistence.write_commit(
                            conn, next_ts, request.documents, request.index_writes, pack_write_set(request.written.pairs())
                        )
                        if request.session_record is not None:
                            await self.persistence.write_session_record(conn, next_ts, request.session_record)
                        accepted.append((request, next_ts))
                        next_ts += 1
                    if accepted:
                        await conn.execute("UPDATE cx_clock SET ts = $1 WHERE id = 1", accepted[-1][1])
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            logger.exception("commit batch failed")
            error = Overloaded(f"The database failed while committing ({type(exc).__name__}: {exc}). Try again.")
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(error)
            return
        METRICS.commits_total += len(accepted)
        for request, ts in accepted:
            self.write_log.append(ts, request.written)
            self.on_commit(ts, request.written)
        for request, ts in accepted:
            request.future.set_result(ts)
