"""The committer: validates transactions and writes them, in one total order.

Protocol (DESIGN.md section 4), per batch of transactions queued together:

1. Check each transaction's read set against every write after its snapshot
   that this replica knows of, including the writes of earlier transactions
   in the same batch. A conflicting transaction is rejected with
   :class:`ConflictError` once the batch is settled (so its retry starts from
   a snapshot that holds the winner) and retried by its caller.
2. Give the survivors timestamps ``max(clock + 1, now_ns)`` upward and write
   them in ONE statement that also moves the clock, on the condition that the
   clock is still where this replica last saw it (a compare-and-set). That
   one round trip is the whole commit while no other replica writes.
3. If another replica moved the clock, apply its commits from the commit log,
   lock the clock row (``SELECT ... FOR UPDATE``) so this replica cannot lose
   again, and validate and write under the lock.

Futures resolve only after PostgreSQL acknowledged the statement: a client is
never told of a commit that PostgreSQL does not hold. Batching (group commit)
means one round trip carries many commits.

Failures stay with the request that caused them. If PostgreSQL refuses a
batch's statement (it rolled back whole), each request is committed again on
its own, so only the culprit fails, with an error that says why. A caller
that went away (its future cancelled) is skipped. Any other exception fails
only the batch at hand; the committer goes on with the next one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import asyncpg

from ..errors import CommitRefused, ConflictError, DatabaseUnavailable, DuplicateSessionRequest, Overloaded, RequestError
from ..metrics import METRICS
from ..services import BackgroundService
from ..storage.postgres import CONNECTION_ERRORS, DeploymentChange, DocumentWrite, IndexWrite, Persistence
from .freshness import STEP_DOWN_WAIT_S, LeaseHolderStuck, SoloLease, evict_holder, take_shared_lease
from .readset import ReadSet, SortedKeys
from .writelog import WriteLog

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class SessionRecord:
    """A WebSocket mutation's outcome, stored with its writes so a re-sent request is not re-run."""

    session_id: str
    request_id: int
    result: bytes
    log_lines: list[str]
    identity: str = ""
    """Who ran it: a re-sent request is answered from the record only for the same caller."""


@dataclass(slots=True)
class CommitRequest:
    snapshot_ts: int
    read_set: ReadSet
    documents: list[DocumentWrite]
    index_writes: list[IndexWrite]
    written: SortedKeys
    session_record: SessionRecord | None = None
    deployment: DeploymentChange | None = None
    """Set for a deployment change (schema, index states), written with the commit."""
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]

CommitListener = Callable[[int, "SortedKeys | None"], None]
"""Called with ``(commit_ts, written_keys)`` for every commit, in ts order, once it is durable.
``written_keys`` None means anything may have changed (a replica resynced)."""

LocalCommitListener = Callable[[int, SortedKeys, "CommitRequest"], None]
"""The committer's callback: like :data:`CommitListener`, with the request (rows) of this replica's commit."""


CatchUp = Callable[[asyncpg.Connection, int], Awaitable[None]]
"""Brings the write log up to a clock ts, under the clock lock, before validation."""

VERIFY_ATTEMPTS = 20


class _Refused(Exception):
    """PostgreSQL answered a commit statement with an error: nothing of it was applied."""

    def __init__(self, requests: list[CommitRequest], cause: BaseException):
        super().__init__(str(cause))
        self.requests = requests
        self.cause = cause


def _refusal(request: CommitRequest, cause: BaseException) -> RequestError:
    """The error one request gets when PostgreSQL refused its rows alone."""
    record = request.session_record
    if isinstance(cause, asyncpg.UniqueViolationError) and record is not None and "cx_session_requests" in str(cause.constraint_name or cause):
        return DuplicateSessionRequest(record.session_id, record.request_id)
    return CommitRefused(f"PostgreSQL refused this mutation's writes ({type(cause).__name__}: {cause}). Nothing was applied.")


def _connection_lost(exc: BaseException) -> bool:
    """The connection failed (the server may still be running the statement), as opposed to the
    server answering with an error (the statement is over and rolled back)."""
    if isinstance(exc, asyncpg.PostgresError):
        return isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError))
    return True


class Committer(BackgroundService):
    name = "committer"

    def __init__(
        self, persistence: Persistence, write_log: WriteLog, catch_up: CatchUp, on_commit: LocalCommitListener,
        *, max_batch: int,
    ):
        super().__init__()
        self.persistence = persistence
        self.write_log = write_log
        self.catch_up = catch_up
        self.on_commit = on_commit
        self.max_batch = max_batch
        self._queue: asyncio.Queue[CommitRequest] = asyncio.Queue()
        self._gate = asyncio.Lock()
        self.lease: SoloLease | None = None
        """This replica's solo lease, if it follows the log (set by the database)."""

    async def commit(self, request: CommitRequest) -> int:
        """Queue ``request``; return its commit ts, or raise :class:`ConflictError`."""
        request.future = asyncio.get_running_loop().create_future()
        await self._queue.put(request)
        return await request.future

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[Callable[[CommitRequest], Awaitable[int]]]:
        """Run the caller's transaction while holding the clock row: no replica can commit meanwhile.

        The pessimistic last resort for a mutation that keeps losing OCC races:
        its snapshot is the clock, nothing can commit between its reads and its
        commit, so it cannot conflict. Every replica's commits wait for it, so
        it is only for the final retry.
        """
        async with self._gate, self._connection() as conn:
            transaction, clock_ts = await self._lock_clock(conn)
            finished = False
            try:

                async def commit_now(request: CommitRequest) -> int:
                    nonlocal finished
                    request.future = asyncio.get_running_loop().create_future()
                    finished = True
                    rejected: list[CommitRequest] = []
                    try:
                        await self._commit_locked(conn, transaction, [request], clock_ts, rejected)
                    except _Refused as refused:
                        raise _refusal(request, refused.cause) from None
                    finally:
                        self._reject(rejected)
                    return await request.future

                yield commit_now
            finally:
                if not finished and not conn.is_closed():
                    await transaction.rollback()

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit_guarded(batch)

    async def _commit_guarded(self, batch: list[CommitRequest]) -> None:
        """Commit ``batch``; whatever goes wrong is answered to its requests, never raised."""
        try:
            async with self._gate:
                await self._commit_batch(batch)
        except _Refused as refused:
            if len(refused.requests) == 1:
                self._settle(refused.requests, _refusal(refused.requests[0], refused.cause))
                return
            logger.info("PostgreSQL refused a batch of %d commits (%s); committing them one by one", len(refused.requests), refused.cause)
            for request in refused.requests:
                await self._commit_guarded([request])
        except Exception as exc:  # noqa: BLE001 - a bug must cost this batch, not every later commit
            logger.exception("commit batch failed on an unexpected error")
            self._settle(batch, RequestError(
                f"The commit failed on an internal error ({type(exc).__name__}); see the server log. Try again."))

    def _validate(self, batch: list[CommitRequest], clock_ts: int, rejected: list[CommitRequest]) -> list[tuple[int, CommitRequest]]:
        """Assign timestamps to the requests that do not conflict; move the others to ``rejected``."""
        accepted: list[tuple[int, CommitRequest]] = []
        next_ts = max(clock_ts + 1, time.time_ns())
        for request in batch:
            if self.write_log.conflicts(request.read_set, request.snapshot_ts) or any(
                earlier.written.intersects(request.read_set) for _, earlier in accepted
            ):
                METRICS.conflicts_total += 1
                rejected.append(request)
                continue
            accepted.append((next_ts, request))
            next_ts += 1
        return accepted

    def _reject(self, rejected: list[CommitRequest]) -> None:
        self._settle(rejected, ConflictError("a concurrent commit changed what this transaction read"))

    @staticmethod
    def _settle(requests: list[CommitRequest], error: BaseException) -> None:
        """Fail the requests whose callers still wait (a caller that went away cancelled its future)."""
        for request in requests:
            if not request.future.done():
                request.future.set_exception(error)

    async def _commit_batch(self, batch: list[CommitRequest]) -> None:
        rejected: list[CommitRequest] = []
        try:
            clock_ts = self.write_log.max_ts
            accepted = self._validate(batch, clock_ts, rejected)
            if not accepted:
                return
            if await self._write(accepted, clock_ts) is not False:
                return  # committed and published, or failed and reported
            if self.lease is not None and self.lease.held:
                self.lease.abandon()  # a solo replica lost the race: its lease is gone
            # Another replica committed first, so it is busy: lock rather than race again (measured
            # with 2 and 4 replicas, 20-30% more commits/s than a second compare-and-set).
            batch = [request for _, request in accepted]
            await self._commit_pessimistically(batch, rejected)
        except DatabaseUnavailable as exc:
            self._settle(batch, exc)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            logger.warning("commit batch failed before writing: %s: %s", type(exc).__name__, exc)
            self._fail(batch, exc, outcome_known=True)
        finally:
            self._reject(rejected)

    async def _write(self, accepted: list[tuple[int, CommitRequest]], clock_ts: int) -> bool | None:
        """One compare-and-set commit statement: True (published), False (clock moved), None (failed, reported)."""
        published = False
        server_pid = None
        try:
            async with self.persistence.pool.acquire() as conn:
                server_pid = conn.get_server_pid()
                applied = await self.persistence.write_commits(conn, accepted, clock_ts, self._lease_pid())
                if applied:
                    # At once, with no await in between: nothing (the follower included) can apply
                    # these commits from the log first.
                    self._publish(accepted)
                    published = True
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            if published:
                return True  # the connection failed after the commit; the pool replaces it
            if not _connection_lost(exc):
                raise _Refused([request for _, request in accepted], exc) from exc
            if server_pid is None:  # no connection to be had: nothing was sent
                logger.warning("commit batch failed: no connection to PostgreSQL (%s: %s)", type(exc).__name__, exc)
                self._fail([request for _, request in accepted], exc, outcome_known=True)
                return None
            # Mid-statement: only PostgreSQL knows whether it committed.
            logger.warning("commit batch failed: %s: %s", type(exc).__name__, exc)
            landed = await self._landed(accepted, server_pid if _connection_lost(exc) else None)
            if landed is not True:
                self._fail([request for _, request in accepted], exc, outcome_known=landed is False)
                return None
            self._publish(accepted)
            return True
        return applied

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; failing to get one is :class:`DatabaseUnavailable` (nothing was sent)."""
        try:
            connection = await self.persistence.pool.acquire()
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(f"Could not reach PostgreSQL ({type(exc).__name__}). Nothing was applied; try again.") from exc
        try:
            yield connection
        finally:
            await self.persistence.pool.release(connection)

    async def _commit_pessimistically(self, batch: list[CommitRequest], rejected: list[CommitRequest]) -> None:
        async with self._connection() as conn:
            transaction, clock_ts = await self._lock_clock(conn)
            await self._commit_locked(conn, transaction, batch, clock_ts, rejected)

    def _lease_pid(self) -> int:
        lease = self.lease
        return (lease.holder_pid or 0) if lease is not None and lease.held else 0

    async def _lock_clock(self, conn: asyncpg.Connection) -> tuple[Any, int]:
        """Start a transaction on ``conn`` that may commit (the solo lease allows it) and holds the
        clock row, caught up to it. Returns ``(transaction, clock_ts)``."""
        for _ in range(3):
            transaction = conn.transaction()
            await transaction.start()
            try:
                if self._lease_pid() == 0:
                    await take_shared_lease(conn, STEP_DOWN_WAIT_S)
                clock_ts = await conn.fetchval("SELECT ts FROM cx_clock WHERE id = 1 FOR UPDATE")
                await self.catch_up(conn, clock_ts)
                return transaction, clock_ts
            except LeaseHolderStuck:
                await transaction.rollback()
                await evict_holder(self.persistence.pool)
            except BaseException:
                await transaction.rollback()
                raise
        raise Overloaded("Another replica holds the commit lease and does not give it up. Nothing was applied; try again.")

    async def _commit_locked(
        self, conn: asyncpg.Connection, transaction: Any, batch: list[CommitRequest], clock_ts: int,
        rejected: list[CommitRequest],
    ) -> None:
        """Validate, write and commit ``batch`` in ``transaction``, which holds the clock row lock."""
        accepted: list[tuple[int, CommitRequest]] = []
        committing = False
        server_pid = conn.get_server_pid()
        try:
            try:
                accepted = self._validate(batch, clock_ts, rejected)
                if accepted and not await self.persistence.write_commits(conn, accepted, clock_ts, self._lease_pid()):
                    raise RuntimeError("the clock moved while this replica held its lock")
            except BaseException:
                await transaction.rollback()
                raise
            committing = True
            await transaction.commit()
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            if not _connection_lost(exc) and accepted:
                raise _Refused([request for _, request in accepted], exc) from exc
            logger.warning("commit batch failed: %s: %s", type(exc).__name__, exc)
            in_doubt = server_pid if _connection_lost(exc) else None
            landed = await self._landed(accepted, in_doubt) if committing and accepted else False
            if landed is not True:
                self._fail(batch, exc, outcome_known=landed is False)
                return
        self._publish(accepted)

    async def _landed(self, accepted: list[tuple[int, CommitRequest]], server_pid: int | None) -> bool | None:
        """After an error while committing the outcome is unknown: ask PostgreSQL, retrying while it is away.

        The server process that ran the commit (``server_pid``) may still be running it although
        its client is gone, and commit after a look at the log; so it is ended first, and only
        once it has exited is the log's answer final. None if no answer could be had. Commits
        that did land reach this replica later through the commit log, like any other replica's.
        """
        first_ts, first = accepted[0]
        for attempt in range(VERIFY_ATTEMPTS):
            try:
                if server_pid is not None:
                    await self.persistence.end_backend(server_pid)
                    server_pid = None
                return await self.persistence.committed(first_ts, first.written.pairs())
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
        return None

    def _fail(self, batch: list[CommitRequest], exc: BaseException, *, outcome_known: bool) -> None:
        if outcome_known:
            message = f"The database connection failed while committing ({type(exc).__name__}). Nothing was applied; try again."
        else:
            message = (
                f"The database connection failed while committing ({type(exc).__name__}) and did not come back, so "
                "whether the mutation was applied is unknown. Check before retrying."
            )
        self._settle(batch, Overloaded(message))

    def _publish(self, accepted: list[tuple[int, CommitRequest]]) -> None:
        """Apply the batch here and answer its callers.

        The futures are resolved first only so that the callers' tasks are queued
        ahead of the subscription re-runs the listeners wake: a mutation's response
        must not wait behind a thousand queries. Nothing runs until this returns,
        so the callers still see ``latest_ts`` past their commits.
        """
        METRICS.commits_total += len(accepted)
        for ts, request in accepted:
            if not request.future.done():  # a caller that went away cancelled its future
                request.future.set_result(ts)
        for ts, request in accepted:
            if ts <= self.write_log.max_ts:
                # Already applied from the commit log (its outcome was unknown for a while): patching
                # the cache with these rows now could overwrite newer ones.
                continue
            self.write_log.append(ts, request.written)
            self.on_commit(ts, request.written, request)
