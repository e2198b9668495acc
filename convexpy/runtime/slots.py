"""Convex's concurrency limits: how many queries, mutations and actions run at once per replica.

Each kind has its own count (Convex's ``APPLICATION_MAX_CONCURRENT_QUERIES`` and
friends: 16 queries, 16 mutations, 64 actions). A call past the limit waits in
line, first come first served, and fails with ``Overloaded`` if no slot frees
up within the wait (Convex's ``APPLICATION_FUNCTION_RUNNER_SEMAPHORE_TIMEOUT``);
the client retries. With runner processes, the limits also bound how many
runners the pool may fork.

Only calls from outside take a slot: a function called from an action
(``ctx.run_query`` ...) runs in its caller's, so actions waiting on nested calls
can never hold every slot their callees need.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..errors import Overloaded


class FunctionSlots:
    """``async with slots:`` runs the body in one of ``limit`` slots, or raises :class:`Overloaded`."""

    def __init__(self, kind: str, limit: int, wait_s: float):
        self.kind = kind
        self.limit = max(1, limit)
        self.wait_s = wait_s
        self.running = 0
        self._waiters: deque[asyncio.Future] = deque()

    async def __aenter__(self) -> "FunctionSlots":
        if self.running < self.limit and not self._waiters:
            self.running += 1
            return self
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self.wait_s, _expire, waiter)
        try:
            await waiter  # resolved by a finishing call, which hands its slot over
        except TimeoutError:
            raise Overloaded(
                f"Too many concurrent {self.kind}: {self.limit} are running and none finished within {self.wait_s:g} s. Try again."
            ) from None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release()  # handed a slot just as the caller went away
            raise
        finally:
            timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.running -= 1


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
