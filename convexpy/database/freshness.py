"""Read-your-writes across replicas: a query reflects every commit acknowledged before it arrived.

A replica reads at its ``latest_ts``, which lags the other replicas' commits by
however long their notifications take. So a client that saw its mutation
acknowledged by replica A could, a moment later, read from replica B without
it. Two mechanisms close that gap, and cost nothing while one replica writes:

* **The clock barrier** (several writers). Before it answers, a query waits for
  a read of the commit clock that *started after the query arrived*, and for
  this replica to apply the log up to that ts. Queries arriving together share
  one read: one round trip per moment, not per query.
* **The solo lease** (one writer). A replica that has seen no other replica's
  commit for a while takes an exclusive PostgreSQL advisory lock. Every commit
  of every other replica needs a shared lock on the same key inside its commit
  statement, so while the lease is held nobody else can commit, and the solo
  replica's ``latest_ts`` is the clock: queries skip the barrier. A replica that
  wants to commit waits for the shared lock; the solo replica, checking a few
  times a second, sees the waiter in ``pg_locks`` and steps down before it
  releases the lock. If it does not (it is paused), the waiter ends its
  session after a timeout longer than the solo replica's trust window: the
  solo replica trusts its lease only for ``trust_s`` after a check *sent*
  while no one waited, so a paused replica resumes distrusting it.

The solo replica's own commits check in the same statement that its lease is
still held, so a lease lost with its connection is never written through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Awaitable, Callable

import asyncpg

from ..metrics import METRICS
from ..services import BackgroundService
from ..storage.postgres import LEASE_ALIVE_CLASS, LEASE_KEY

if TYPE_CHECKING:
    from .database import Database

logger = logging.getLogger(__name__)

_WAITERS_SQL = f"""
SELECT
    EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = {LEASE_KEY}
            AND objsubid = 1 AND pid = pg_backend_pid() AND granted AND mode = 'ExclusiveLock') AS held,
    EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = {LEASE_KEY}
            AND objsubid = 1 AND NOT granted) AS waited_for
"""

TRUST_S = 1.0
"""How long a solo replica trusts one check of its lease."""
STEP_DOWN_WAIT_S = 3 * TRUST_S
"""How long a commit waits for a solo replica to step down before ending its lease session: longer
than the trust window, so a paused holder distrusts its lease before anyone else commits."""

_HOLDER_SQL = f"""
SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = {LEASE_KEY}
  AND objsubid = 1 AND granted AND mode = 'ExclusiveLock'
"""


class ClockBarrier:
    """Reads of the commit clock shared by the queries that arrive while one is in flight."""

    def __init__(self, read_clock: Callable[[], Awaitable[int]]):
        self._read_clock = read_clock
        self._current: asyncio.Future[int] | None = None
        self._next: asyncio.Future[int] | None = None

    async def clock_after_now(self) -> int:
        """The clock as read by a statement that started after this call."""
        loop = asyncio.get_running_loop()
        if self._current is None:
            self._current = loop.create_future()
            future = self._current
            self._start(future)
        else:
            if self._next is None:
                self._next = loop.create_future()  # starts when the read in flight (begun too early) ends
            future = self._next
        return await asyncio.shield(future)

    def _start(self, future: asyncio.Future[int]) -> None:
        METRICS.clock_reads_total += 1
        task = asyncio.ensure_future(self._read_clock())
        task.add_done_callback(lambda done: self._finished(done, future))

    def _finished(self, done: asyncio.Future[int], future: asyncio.Future[int]) -> None:
        if done.cancelled():
            future.cancel()
        elif done.exception() is not None:
            future.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            future.set_result(done.result())
        self._current, self._next = self._next, None
        if self._current is not None:
            self._start(self._current)


class SoloLease(BackgroundService):
    name = "solo lease"

    def __init__(
        self, database: "Database", dsn: str, *, check_interval_s: float = 0.2, trust_s: float = TRUST_S,
        quiet_before_solo_s: float = 5.0,
    ):
        super().__init__()
        self.database = database
        self.dsn = dsn
        self.check_interval_s = check_interval_s
        self.trust_s = trust_s
        self.quiet_before_solo_s = quiet_before_solo_s
        self.held = False
        """This replica holds the exclusive lock (its commits then check that they still do)."""
        self.holder_pid: int | None = None
        self._trusted_until = 0.0
        self._not_before = 0.0
        self._connection: asyncpg.Connection | None = None

    @property
    def solo(self) -> bool:
        """No other replica can have committed anything this replica has not applied."""
        return self.held and time.monotonic() < self._trusted_until

    async def run(self) -> None:
        while True:
            try:
                if self.held:
                    await self._check()
                elif time.monotonic() >= self._not_before and self._quiet():
                    await self._try_to_hold()
            except Exception as exc:  # noqa: BLE001 - a lost connection, or a catch-up that timed out
                if self.held:
                    logger.warning("gave up the solo lease (%s); reading the clock for every query", exc)
                await self._release(backoff_s=self.quiet_before_solo_s)
            await asyncio.sleep(self.check_interval_s)

    def _quiet(self) -> bool:
        """No other replica's commit arrived lately (so holding the lease would not stall one)."""
        last = self.database.last_foreign_commit_monotonic
        return last is None or time.monotonic() - last >= self.quiet_before_solo_s

    async def _try_to_hold(self) -> None:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self.dsn, timeout=10)
        if not await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", LEASE_KEY):
            self._not_before = time.monotonic() + self.quiet_before_solo_s
            return
        # What this replica's own commits check: that this session (and so the lease) is alive.
        await self._connection.execute("SELECT pg_advisory_lock($1, pg_backend_pid())", LEASE_ALIVE_CLASS)
        # Held from here, so this replica's own commits go through (they check the session, not take
        # the lock shared, which its own exclusive hold would refuse); trusted only after _check below.
        self.holder_pid = self._connection.get_server_pid()
        self.held = True
        # Nobody else can commit now; commits acknowledged before the lock are below the clock.
        clock_ts = await self._connection.fetchval("SELECT ts FROM cx_clock WHERE id = 1")
        await self.database.wait_for_ts(clock_ts)
        logger.debug("this replica is the only writer: queries skip the commit clock")
        await self._check()

    async def _check(self) -> None:
        assert self._connection is not None
        sent = time.monotonic()
        row = await self._connection.fetchrow(_WAITERS_SQL)
        if row["held"] and not row["waited_for"]:
            self._trusted_until = sent + self.trust_s
            return
        if row["held"]:
            logger.info("another replica wants to commit: giving up the solo lease")
        await self._release(backoff_s=max(30.0, self.quiet_before_solo_s))

    async def _release(self, *, backoff_s: float) -> None:
        """Stop trusting the lease first, then let go of the lock."""
        self.held = False
        self.holder_pid = None
        self._trusted_until = 0.0
        self._not_before = time.monotonic() + backoff_s
        if self._connection is not None and not self._connection.is_closed():
            try:
                await self._connection.execute("SELECT pg_advisory_unlock_all()")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self._connection.terminate()
                self._connection = None

    def abandon(self) -> None:
        """Drop the lease at once (a commit found it lost): distrust it, and end its session."""
        self.held = False
        self.holder_pid = None
        self._trusted_until = 0.0
        self._not_before = time.monotonic() + max(30.0, self.quiet_before_solo_s)
        if self._connection is not None:
            self._connection.terminate()
            self._connection = None

    async def stop(self, timeout_s: float = 5.0) -> None:
        self.held = False
        await super().stop(timeout_s)
        if self._connection is not None:
            self._connection.terminate()  # the lock goes with the session
            self._connection = None


async def take_shared_lease(conn: asyncpg.Connection, wait_s: float) -> None:
    """Inside a transaction on ``conn``: the shared lock every non-solo commit needs.

    Waits for a solo replica to step down; if it has not after ``wait_s`` (longer than its trust
    window), raises :class:`LeaseHolderStuck`: the caller ends the holder's session
    (:func:`evict_holder`) and starts its transaction again.
    """
    try:
        await conn.execute(
            "SELECT set_config('lock_timeout', $2, true), pg_advisory_xact_lock_shared($1)", LEASE_KEY, f"{int(wait_s * 1000)}ms"
        )
    except asyncpg.LockNotAvailableError:
        raise LeaseHolderStuck() from None  # the transaction is aborted: the caller starts it again
    await conn.execute("SELECT set_config('lock_timeout', '0', true)")


class LeaseHolderStuck(Exception):
    """The solo replica did not step down in time; :func:`evict_holder` ends its lock session."""


async def evict_holder(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        pid = await conn.fetchval(_HOLDER_SQL)
        if pid is not None:
            logger.warning("the solo replica (PostgreSQL pid %d) did not step down; ending its lease session", pid)
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
