"""Background services: one start/stop protocol, and health that readiness and liveness report.

A replica runs long-lived tasks (the committer, the commit-log follower,
retention; later the scheduler and crons). Each one must survive a failure of
one unit of its work: it catches, reports and goes on. Should a task end all
the same (a bug), the replica cannot do that job any more, so the service
says so: ``/health/ready`` and ``/health/live`` turn red instead of the
replica hanging while it claims to be fine, and an orchestrator restarts it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine

logger = logging.getLogger(__name__)


class BackgroundService:
    """A named task started once, stopped within a bound, whose death is visible."""

    name = "service"

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None
        self.failure: BaseException | None = None
        """Why the task ended on its own, if it did."""

    async def run(self) -> None:  # pragma: no cover - every service overrides it
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._main(self.run()), name=f"convexpy-{self.name}")

    async def _main(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - recorded for health, then the task ends
            self.failure = exc
            logger.critical("the %s stopped on an unexpected error; this replica needs a restart", self.name, exc_info=exc)
            return
        if self.failure is None:
            self.failure = RuntimeError(f"the {self.name} returned")

    @property
    def alive(self) -> bool:
        """Running (or not started yet, or stopped on purpose): False only if it died."""
        return self.failure is None

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel the task and wait for it, at most ``timeout_s`` (a stuck task is abandoned)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=timeout_s)
        if not done:
            logger.warning("the %s did not stop in %s s; abandoning it", self.name, timeout_s)
