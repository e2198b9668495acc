"""Restarts the embedded PostgreSQL if it dies while the server runs.

Only the process that started the embedded cluster watches it (``convexpy
serve``, or the supervisor of ``--workers N``). While it is down, reads and
writes fail at once with "nothing was applied" and readiness is red; once it
is back, the pool and the commit-log follower reconnect by themselves. If it
cannot be brought back for a minute, the watchdog gives up and liveness turns
red: an orchestrator's restart is the next step.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..services import BackgroundService
from ..storage.embedded import EmbeddedPostgres

logger = logging.getLogger(__name__)
CHECK_EVERY_S = 1.0
GIVE_UP_AFTER_S = 60.0


class EmbeddedWatchdog(BackgroundService):
    name = "embedded PostgreSQL watchdog"

    def __init__(self, embedded: EmbeddedPostgres):
        super().__init__()
        self.embedded = embedded

    async def run(self) -> None:
        down_since: float | None = None
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            if self.embedded.running():
                down_since = None
                continue
            down_since = down_since or time.monotonic()
            try:
                if not await asyncio.to_thread(self.embedded.ensure_running):
                    raise RuntimeError("the embedded PostgreSQL came back on another socket folder; restart convexpy")
                logger.warning("embedded PostgreSQL is running again")
                down_since = None
            except RuntimeError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried until GIVE_UP_AFTER_S
                logger.warning("could not start the embedded PostgreSQL again: %s", exc)
                if time.monotonic() - down_since > GIVE_UP_AFTER_S:
                    raise RuntimeError(f"the embedded PostgreSQL stayed down for {GIVE_UP_AFTER_S:g} s") from exc
