"""Query results shared between clients.

When a commit invalidates a query that many clients watch, each of them
re-runs it at the same new ts. A result that never read ``ctx.auth`` is the
same for all of them, so it is computed once per ``(path, args, journal, ts)``
(and admin bit: an admin may reach internal functions that others may not; and
code version: a reload re-runs queries at the same ts) and handed to every waiter. Entries older than the newest ts are dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from ..errors import BadRequest, DuplicateSessionRequest
from ..metrics import METRICS
from ..runtime.calls import decode_args_or_outcome
from ..runtime.executor import Executor, Identity, Outcome
from ..runtime.functions import FunctionKind

Key = tuple[str, bytes, "str | None", int, bool, Any]


class SharedResults:
    def __init__(self, executor: Executor):
        self.executor = executor
        self._entries: dict[Key, asyncio.Future[Outcome]] = {}
        self._newest_ts = 0

    async def run(self, path: str, args: list[Any], identity: Identity, journal: str | None, ts: int) -> Outcome:
        """Run query ``path`` with encoded-JSON ``args`` at ``ts``, sharing identity-free results."""
        # Admins may see internal functions, so what a path resolves to depends on the admin bit.
        try:
            key = (path, orjson.dumps(args, option=orjson.OPT_SORT_KEYS), journal, ts, identity.admin, self.executor.code_version)
        except TypeError:  # nested past what orjson encodes: decoding refuses it, nothing to share
            return await self._run(path, args, identity, journal, ts)
        if ts > self._newest_ts:
            self._newest_ts = ts
            self._entries = {k: f for k, f in self._entries.items() if k[3] >= ts}
        shared = self._entries.get(key)
        if shared is not None:
            outcome = await asyncio.shield(shared)
            if not outcome.uses_identity:
                return outcome
            return await self._run(path, args, identity, journal, ts)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if ts >= self._newest_ts:
            self._entries[key] = future
        try:
            outcome = await self._run(path, args, identity, journal, ts)
        except BaseException as exc:
            self._entries.pop(key, None)
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        future.set_result(outcome)
        if outcome.uses_identity:
            self._entries.pop(key, None)
        return outcome

    async def _run(self, path: str, args: list[Any], identity: Identity, journal: str | None, ts: int) -> Outcome:
        METRICS.sync_query_runs_total += 1
        return await run_encoded(self.executor, path, args, identity, FunctionKind.QUERY, snapshot_ts=ts, journal=journal)


async def run_encoded(executor: Executor, path: str, args: list[Any], identity: Identity, kind: FunctionKind, **extra: Any) -> Outcome:
    """Run a function whose arguments are still encoded JSON, as the socket delivers them.

    Undecodable arguments and malformed paths are failed outcomes here (the
    client sees them as the function's error), not protocol errors.
    """
    decoded, refused = decode_args_or_outcome(path, args)
    if refused is not None:
        return refused
    try:
        return await executor.run(path, decoded, identity, expected=kind, **extra)
    except DuplicateSessionRequest:
        raise  # the session answers it from the stored outcome
    except BadRequest as error:
        return Outcome(False, error_message=error.message + "\n", uses_identity=False)
