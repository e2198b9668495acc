"""The database facade: opens storage, keeps the catalog, runs transactions.

``latest_ts`` is the newest commit this replica knows to be durable; queries
read there. Mutations run through :meth:`Database.run_mutation`, which retries
on OCC conflicts with a fresh snapshot and, for its last attempt, runs with
the committer held so that a hot key cannot starve it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any, Awaitable, Callable, TypeVar

import orjson

from ..errors import ConflictError, DatabaseUnavailable, OutOfRetention, Overloaded
from ..schema import SchemaDefinition
from ..services import BackgroundService
from ..settings import Settings
from ..storage.postgres import CommitLogGap, Persistence
from .cache import IndexCache
from .catalog import BY_CREATION_TIME, BY_ID, SYSTEM_TABLES, Catalog, Table
from .committer import CommitListener, CommitRequest, Committer, SessionRecord
from .deployment import SchemaManager, is_deployment_change
from .follower import Follower
from .freshness import ClockBarrier, SoloLease
from .readset import SortedKeys
from .retention import RetentionJob
from .transaction import Transaction
from .writelog import WriteLog

logger = logging.getLogger(__name__)
T = TypeVar("T")
UNAVAILABLE_RETRIES = 2
"""Attempts again after PostgreSQL could not be reached (a cut connection comes back at once)."""


class Database:
    def __init__(self, persistence: Persistence, clock_ts: int, settings: Settings | None = None):
        settings = settings or Settings.defaults()
        self.settings = settings
        self.persistence = persistence
        self.catalog = Catalog()
        self.schema: SchemaDefinition | None = None
        """The deployment's schema (as stored: see ``deployment.py``), checked on every write."""
        self.schemas = SchemaManager(self)
        self.latest_ts = clock_ts
        self.write_log = WriteLog(clock_ts)
        self.committer = Committer(
            persistence, self.write_log, self._catch_up_locked, self._on_commit, max_batch=settings.commit_batch_max
        )
        self.cache = IndexCache(self.write_log, int(settings.cache_mb * 1024 * 1024))
        self.commit_listeners: list[CommitListener] = []
        """Told of every commit, in ts order, right after ``latest_ts`` moves and the cache is updated."""
        self.follower: Follower | None = None
        self.lease: SoloLease | None = None
        self.barrier = ClockBarrier(persistence.read_clock)
        self.last_foreign_commit_monotonic: float | None = None
        """When a commit of another replica was last applied here (the solo lease waits for quiet)."""
        self.retention: RetentionJob | None = None
        self.watched: list[BackgroundService] = []
        """Services of upper layers whose death also needs a restart (the embedded PostgreSQL watchdog)."""
        self._table_locks: dict[str, asyncio.Lock] = {}
        self._advanced = asyncio.Event()
        """Set (and replaced) whenever ``latest_ts`` moves."""
        self._catch_up_lock = asyncio.Lock()
        self._retry_lane = asyncio.Lock()
        """Mutations retrying after a conflict run one at a time (see :meth:`run_mutation`)."""

    @classmethod
    async def open(cls, dsn: str, *, follow: bool = True, settings: Settings | None = None, **overrides: Any) -> "Database":
        """Open the database at ``dsn`` with ``settings`` (defaults, changed by ``overrides``).

        ``follow``: apply other replicas' commits as they land. ``retention_s`` None
        keeps every revision; ``cache_mb`` 0 disables the index cache.
        """
        settings = dataclasses.replace(settings or Settings.defaults(), **overrides)
        persistence = await Persistence.connect(dsn, max_size=settings.pool_size)
        database = cls(persistence, await persistence.read_clock(), settings)
        await database.schemas.load()
        await database.ensure_system_tables()
        database.committer.start()
        if follow:
            database.follower = Follower(database, dsn, poll_interval_s=settings.follower_poll_s)
            database.follower.start()
            database.lease = database.committer.lease = SoloLease(database, dsn)
            database.lease.start()
        if settings.retention_s is not None:
            database.retention = RetentionJob(database, settings.retention_s)
            database.retention.start()
        return database

    async def include_acknowledged(self) -> None:
        """Return once this replica has applied every commit acknowledged (by any replica) before
        this call: free while this replica is the only writer (see ``freshness.py``)."""
        if self.follower is None or (self.lease is not None and self.lease.solo):
            return
        clock_ts = await self.barrier.clock_after_now()
        if clock_ts > self.latest_ts:
            await self.wait_for_ts(clock_ts)

    async def close(self) -> None:
        await self.schemas.stop()
        if self.retention is not None:
            await self.retention.stop()
        if self.lease is not None:
            await self.lease.stop()
        if self.follower is not None:
            await self.follower.stop()
        await self.committer.stop()
        await self.persistence.close()

    @property
    def services(self) -> list[BackgroundService]:
        own = [service for service in (self.committer, self.follower, self.lease, self.retention) if service is not None]
        return own + self.watched

    def problems(self) -> list[str]:
        """What needs a restart of this replica (empty when healthy): a background service that died."""
        return [f"the {service.name} stopped: {service.failure!r}" for service in self.services if not service.alive]

    @property
    def ready(self) -> bool:
        """Healthy and caught up with the commit log (readiness for orchestration)."""
        return not self.problems() and (self.follower is None or self.follower.ready)

    def _on_commit(self, ts: int, written: SortedKeys | None, request: CommitRequest | None = None) -> None:
        """``written`` None means "anything may have changed" (after a resync); ``request`` is given
        for this replica's own commits.

        Nothing here may stop the others: a failing cache patch empties the cache (always safe), a
        failing listener is logged, and ``latest_ts`` moves in any case.
        """
        try:
            if request is not None:
                self.cache.on_local_commit(ts, request)
            else:
                self.cache.on_commit(ts, written)
        except Exception:  # noqa: BLE001
            logger.exception("index cache update failed; emptying the cache")
            self.cache.clear()
        if ts > self.latest_ts:
            self.latest_ts = ts
        for listener in self.commit_listeners:
            try:
                listener(ts, written)
            except Exception:  # noqa: BLE001
                logger.exception("commit listener %r failed", listener)
        self._advanced.set()
        self._advanced = asyncio.Event()

    # --- following other replicas ----------------------------------------------------

    async def _apply_commits(self, commits: list[tuple[int, list[tuple[int, bytes]]]]) -> None:
        """Apply commits read from the commit log, in ts order, skipping any already applied."""
        fresh = [(ts, keys) for ts, keys in commits if ts > self.write_log.max_ts]
        if any(is_deployment_change(keys) for _, keys in fresh):
            await self.schemas.load()  # another replica changed the schema or an index's state
        elif any(index_id not in self.catalog.indexes for _, keys in fresh for index_id, _ in keys):
            await self.reload_catalog()  # another replica created a table
        for ts, keys in commits:
            if ts > self.write_log.max_ts:
                self.last_foreign_commit_monotonic = time.monotonic()
                written = SortedKeys(keys)
                self.write_log.append(ts, written)
                self._on_commit(ts, written)

    async def _catch_up_locked(self, conn: Any, clock_ts: int) -> None:
        """The committer's catch-up, under the clock lock: no commit below ``clock_ts`` may be missing.

        If retention already deleted commits this replica never saw, validation against them is
        impossible: the replica resyncs at the clock, so every transaction with an older snapshot
        conflicts and is retried (never committed blind).
        """
        if clock_ts > self.write_log.max_ts:
            async with self._catch_up_lock:
                try:
                    commits = await self.persistence.commits_since(self.write_log.max_ts, conn)
                except CommitLogGap:
                    await self._resync(clock_ts)
                    return
                await self._apply_commits(commits)

    async def catch_up(self) -> None:
        """Apply every commit in the log after the newest one applied here (resync after a gap)."""
        async with self._catch_up_lock:
            try:
                commits = await self.persistence.commits_since(self.write_log.max_ts)
            except CommitLogGap:
                await self._resync()
                return
            await self._apply_commits(commits)

    async def refresh(self) -> None:
        """Catch up with the clock as it is now (before retrying a read refused as too old)."""
        await self.wait_for_ts(await self.persistence.read_clock())

    async def _resync(self, clock_ts: int | None = None) -> None:
        """Start over from the clock: this replica fell behind the commit log's horizon."""
        if clock_ts is None:
            clock_ts = await self.persistence.read_clock()
        logger.warning("replica fell behind the retained commit log; resyncing at %d", clock_ts)
        await self.reload_catalog()
        self.write_log.reset(clock_ts)
        self._on_commit(clock_ts, None)

    async def wait_for_ts(self, ts: int, timeout_s: float | None = None) -> None:
        """Return once commits up to ``ts`` are applied here (a client saw ``ts`` on another replica)."""
        if ts <= self.latest_ts:
            return
        timeout_s = self.settings.replica_wait_s if timeout_s is None else timeout_s
        if self.follower is not None:
            self.follower.wake()
        else:
            await self.catch_up()
        deadline = asyncio.get_running_loop().time() + timeout_s
        try:
            while self.latest_ts < ts:
                await asyncio.wait_for(self._advanced.wait(), deadline - asyncio.get_running_loop().time())
        except asyncio.TimeoutError:
            raise Overloaded(
                f"This replica has not caught up to timestamp {ts} yet (it is at {self.latest_ts}). Try again.",
                code="TooEarly",
                status=425,
            ) from None

    # --- catalog ---------------------------------------------------------------------

    async def reload_catalog(self) -> None:
        """Make the catalog what PostgreSQL holds: new tables and indexes in, dropped indexes out."""
        tables, indexes = await self.persistence.load_catalog()
        for row in tables:
            self.catalog.add_table(row["number"], row["name"])
        self.catalog.replace_indexes(
            [(row["id"], row["table_number"], row["name"], orjson.loads(row["fields"]), row["state"] == "ready") for row in indexes]
        )

    async def ensure_system_tables(self) -> None:
        """Create the platform's tables at their reserved numbers (idempotent)."""
        for name, number in SYSTEM_TABLES.items():
            await self.ensure_table(name, number)

    def on_table_write(self, number: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every commit (this replica's, or another's through the commit log)
        that writes the table ``number``, and after a resync (when any table may have changed)."""

        def on_commit(ts: int, written: Any) -> None:
            table = self.catalog.by_number.get(number)
            if written is None or table is None or any(index.id in written.by_index for index in table.maintained()):
                callback()

        self.commit_listeners.append(on_commit)

    async def ensure_table(self, name: str, number: int | None = None) -> Table:
        """The table ``name``, created with its system indexes on first use (``number``: reserved)."""
        table = self.catalog.by_name.get(name)
        if table is not None and BY_CREATION_TIME in table.indexes:
            return table
        lock = self._table_locks.setdefault(name, asyncio.Lock())
        async with lock:
            table = self.catalog.by_name.get(name)
            if table is not None and BY_CREATION_TIME in table.indexes:
                return table
            number = await self.persistence.create_table(name, number)
            table = self.catalog.add_table(number, name)
            for index_name, fields in ((BY_ID, []), (BY_CREATION_TIME, ["_creationTime"])):
                index_id, _ = await self.persistence.create_index(number, index_name, fields)
                self.catalog.add_index(index_id, number, index_name, fields)
            return table

    def validate_document(self, table: str, document: dict[str, Any]) -> None:
        if self.schema is not None:
            self.schema.validate_write(table, document, self.catalog.table_name)

    # --- reads -----------------------------------------------------------------------

    async def read_range(
        self, index_id: int, table_number: int, lower: bytes, upper: bytes | None, snapshot_ts: int, limit: int,
        descending: bool = False,
    ) -> list:
        """Live entries of an index interval at a snapshot: from the index cache, else PostgreSQL."""
        rows = self.cache.lookup(index_id, lower, upper, snapshot_ts, limit, descending)
        if rows is None:
            rows = await self.persistence.index_range(index_id, table_number, lower, upper, snapshot_ts, limit, descending)
            self.cache.fill(index_id, lower, upper, snapshot_ts, limit, descending, rows)
        return rows

    # --- transactions ----------------------------------------------------------------

    def begin(self, *, writable: bool, snapshot_ts: int | None = None) -> Transaction:
        return Transaction(self, self.latest_ts if snapshot_ts is None else snapshot_ts, writable=writable)

    async def commit(self, tx: Transaction) -> int:
        """Commit ``tx``; returns its commit ts (the snapshot ts if it wrote nothing)."""
        request = tx.prepare_commit()
        if request is None:
            return tx.snapshot_ts
        return await self.committer.commit(request)

    async def run_mutation(
        self,
        body: Callable[[Transaction], Awaitable[T]],
        *,
        max_retries: int | None = None,
        record: Callable[[T], SessionRecord] | None = None,
    ) -> tuple[T, int]:
        """Run ``body`` in a fresh transaction until it commits; returns ``(result, commit_ts)``.

        ``record`` turns the result into a session record stored atomically with
        the writes (and forces a commit even when nothing was written, so the
        outcome has a real commit ts). After ``max_retries`` optimistic attempts
        the last one runs holding the clock row (see :meth:`Committer.exclusive`),
        which cannot conflict.
        """

        async def attempt(commit: Callable[..., Awaitable[int]], deadline_s: float | None = None) -> tuple[T, int]:
            tx = self.begin(writable=True)
            try:
                result = await run_body(tx, deadline_s)
            except BaseException:
                tx.raise_if_refused()  # a refused read explains the failure, whatever user code made of it
                raise
            tx.raise_if_refused()
            request = tx.prepare_commit(force=record is not None)
            if request is None:
                return result, tx.snapshot_ts
            if record is not None:
                request.session_record = record(result)
            return result, await commit(request)

        async def run_body(tx: Transaction, deadline_s: float | None) -> T:
            if deadline_s is None:
                return await body(tx)
            else:
                # Only the function is timed: a commit once started is never abandoned half-way, or
                # the caller would be told of a failure that may in fact have landed.
                try:
                    return await asyncio.wait_for(body(tx), deadline_s)
                except asyncio.TimeoutError:
                    raise Overloaded(
                        f"This mutation kept conflicting with concurrent commits, and its final attempt (which holds "
                        f"every replica's commits) ran longer than {deadline_s:g} s. Nothing was applied; try again."
                    ) from None

        unavailable = 0
        for retry in range(self.settings.mutation_retries if max_retries is None else max_retries):
            try:
                if retry == 0:
                    return await attempt(self.committer.commit)
                async with self._retry_lane:
                    return await attempt(self.committer.commit)
            except ConflictError:
                continue  # the winner is already visible: conflicts are reported after it is applied
            except DatabaseUnavailable:  # nothing was written: a cut connection is retried, a dead server reported
                unavailable += 1
                if unavailable > UNAVAILABLE_RETRIES:
                    raise
                await asyncio.sleep(0.01 * 2**unavailable)
            except OutOfRetention:  # this replica's snapshot fell behind retention: read a fresh one
                await self.refresh()
        async with self.committer.exclusive() as commit_now:
            return await attempt(commit_now, self.settings.exclusive_timeout_s)
