"""``ctx.scheduler`` on the caller's side, for Python functions in process and in runners alike.

It checks its arguments as Convex's library does (the same messages), then
sends the syscall a TypeScript function would send (``1.0/schedule`` from a
mutation, ``1.0/actions/schedule`` from an action, and the ``cancel_job``
pair), so the host's one implementation (``runtime/scheduler.py``) serves both
languages. Times are milliseconds, as in Convex.
"""

from __future__ import annotations

import datetime
import math
import time
from typing import Any, Awaitable, Callable

from ..errors import InvalidValueError
from ..values import json as cjson
from ..values.model import normalize

Send = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``(op, args) -> result``: the syscall, answered in process or over a runner's pipe."""


def _function_name(function: Any) -> str:
    name = getattr(function, "path", function)
    if not isinstance(name, str):
        raise InvalidValueError("Schedule a function by its \"module:function\" path, or pass the function itself "
                                "(one exported from a module of the functions folder)")
    return name


class SchedulerClient:
    """``ctx.scheduler`` of a mutation (``in_action`` False) or an action."""

    def __init__(self, send: Send, in_action: bool):
        self._send = send
        self._prefix = "1.0/actions/" if in_action else "1.0/"

    async def run_after(self, delay_ms: float, function: Any, args: dict[str, Any] | None = None) -> str:
        """Run ``function`` with ``args`` in ``delay_ms`` milliseconds; returns the job's id."""
        if not isinstance(delay_ms, (int, float)) or isinstance(delay_ms, bool):
            raise InvalidValueError("`delayMs` must be a number")
        if not math.isfinite(delay_ms):
            raise InvalidValueError("`delayMs` must be a finite number")
        if delay_ms < 0:
            raise InvalidValueError("`delayMs` must be non-negative")
        return await self._schedule((time.time() * 1000 + delay_ms) / 1000, function, args)

    async def run_at(self, when: float | datetime.datetime, function: Any, args: dict[str, Any] | None = None) -> str:
        """Run ``function`` at ``when`` (milliseconds since the epoch, or a datetime); returns the job's id."""
        if isinstance(when, datetime.datetime):
            ts = when.timestamp()
        elif isinstance(when, (int, float)) and not isinstance(when, bool):
            ts = when / 1000
        else:
            raise InvalidValueError("The invoke time must a Date or a timestamp")
        return await self._schedule(ts, function, args)

    async def cancel(self, job_id: str) -> None:
        """Cancel a job that has not finished (a finished one is left as it is)."""
        await self._send(self._prefix + "cancel_job", {"id": job_id})

    async def _schedule(self, ts: float, function: Any, args: dict[str, Any] | None) -> str:
        if args is not None and not isinstance(args, dict):
            raise InvalidValueError("The arguments of a scheduled function must be a dict")
        request = {"name": _function_name(function), "ts": ts, "args": cjson.to_json(normalize(args or {}))}
        return await self._send(self._prefix + "schedule", request)

    runAfter = run_after
    runAt = run_at
