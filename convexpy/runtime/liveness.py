"""Which replicas are alive: each holds a PostgreSQL advisory lock on its id for as long as it runs.

The scheduler and the cron runner claim an action before running it, naming
this replica; a claim whose replica's lock is free belongs to one that died
(a crash or a kill releases the lock with its session), so the action it was
running is marked failed instead of being run twice.
"""

from __future__ import annotations

import random
from typing import Any

LOCK_CLASS = 0x5343
"""The first key of the two-key advisory locks replicas hold (the second is the replica's id)."""


class ReplicaLiveness:
    def __init__(self, pool: Any):
        self._pool = pool
        self.key = random.randrange(1, 2**31)
        """This replica's id, in the claims it writes."""
        self._connection: Any = None
        self._executions = 0

    async def hold(self) -> None:
        self._connection = await self._pool.acquire()
        await self._connection.execute("SELECT pg_advisory_lock($1, $2)", LOCK_CLASS, self.key)

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await self._pool.release(connection)
            except Exception:  # noqa: BLE001 - the pool may be closing; the lock goes with the session
                pass

    def execution_id(self) -> str:
        """A claim's id: this replica's key and a counter."""
        self._executions += 1
        return f"{self.key}:{self._executions}"

    async def owner_gone(self, execution_id: Any) -> bool:
        """Whether the replica that wrote ``execution_id`` no longer runs (never this one)."""
        try:
            owner = int(str(execution_id).split(":")[0])
        except ValueError:
            return True
        if owner == self.key:
            return False
        async with self._pool.acquire() as connection:
            free = await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, owner)
            if free:
                await connection.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, owner)
            return bool(free)
