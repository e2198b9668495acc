"""Following the commit log: how a replica learns of the other replicas' commits.

A dedicated connection LISTENs on the commit channel; every commit notifies it
with its ts. A notification only wakes the follower, which then fetches, in ts
order, every commit after the newest one this replica has applied. The fetch,
not the notification, is the source of truth: notifications can be lost when
the connection drops, so the follower also polls, and after a reconnect it
catches up before the replica reports itself ready again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import asyncpg

from ..services import BackgroundService
from ..storage.postgres import COMMIT_CHANNEL

if TYPE_CHECKING:
    from .database import Database

logger = logging.getLogger(__name__)
RECONNECT_MAX_S = 5.0
CONNECT_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class Follower(BackgroundService):
    name = "commit log follower"

    def __init__(self, database: "Database", dsn: str, *, poll_interval_s: float):
        super().__init__()
        self.database = database
        self.dsn = dsn
        self.poll_interval_s = poll_interval_s
        self.ready = False
        """True while listening and caught up with the clock as of the last check."""
        self._wake = asyncio.Event()
        self._connection: asyncpg.Connection | None = None

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop following; bounded, so shutting down never waits on a stuck connection."""
        await super().stop(timeout_s)
        if self._connection is not None:
            self._connection.terminate()  # LISTEN only: nothing to flush
        self._connection = None

    def wake(self) -> None:
        self._wake.set()

    def _on_notify(self, connection: object, pid: int, channel: str, payload: str) -> None:
        try:
            ts = int(payload)
        except ValueError:
            ts = None
        if ts is None or ts > self.database.write_log.max_ts:
            self._wake.set()

    async def _connect(self) -> None:
        self._connection = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT_S)
        await self._connection.add_listener(COMMIT_CHANNEL, self._on_notify)
        self._connection.add_termination_listener(lambda _connection: self._lost())

    def _lost(self) -> None:
        self.ready = False
        self._wake.set()

    async def _disconnect(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            try:
                await self._connection.close(timeout=2)
            except (OSError, asyncpg.InterfaceError, asyncio.TimeoutError):
                self._connection.terminate()
        self._connection = None

    async def run(self) -> None:
        backoff = 0.05
        while True:
            try:
                if self._connection is None or self._connection.is_closed():
                    self.ready = False
                    await self._disconnect()
                    await self._connect()
                await self.database.catch_up()
                self.ready = True
                backoff = 0.05
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
                except asyncio.TimeoutError:
                            self._wake.clear()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
                self.ready = False
                logger.warning("commit log follower lost the database (%s); retrying", exc)
                await self._disconnect()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_S)
            except Exception:  # noqa: BLE001 - a bug in applying one commit must not end following
                self.ready = False
                logger.exception("commit log follower failed applying commits; retrying")
                await self._disconnect()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_S)
