"""The scheduler: ``ctx.scheduler.runAfter`` / ``runAt`` / ``cancel``, and the service that runs due jobs.

Jobs are documents of the ``_scheduled_functions`` system table, in the shape
functions read through ``ctx.db.system`` (``name``, ``args``,
``scheduledTime``, ``completedTime``, ``state.kind``), indexed by
``(state.kind, scheduledTime)``. Scheduling from a mutation writes the job in
the mutation's own transaction: it exists only if the mutation commits.
Scheduling from an action commits it at once. Both languages reach this
module through the same syscalls (``1.0/schedule``, ``1.0/actions/schedule``,
``1.0/cancel_job``, ``1.0/actions/cancel_job``), as Convex's runtime sends them.

Every replica runs a :class:`Scheduler`, woken by commits that write the table
(its own and, through the commit log, other replicas') and by the clock:

- a **mutation** job runs in one transaction that re-reads the job, runs the
  mutation and marks the job ``success``, so it runs exactly once: two
  replicas racing for it conflict, and the loser finds it done; a crash before
  the commit leaves it ``pending``, to run after the restart;
- an **action** job is first claimed (``inProgress``, committed), then run,
  then marked ``success`` or ``failed``: at most once. Each claim names its
  replica, which holds a PostgreSQL advisory lock while it lives; a job left
  ``inProgress`` by a replica that died is marked failed, never run twice
  (``runtime/liveness.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..database.catalog import SYSTEM_TABLES
from ..errors import ConvexpyError, RequestError, SyscallError
from ..services import BackgroundService
from ..values import json as cjson
from ..values.ids import DocumentId, try_decode
from ..values.model import size_of
from .functions import ConvexFunction, FunctionKind
from .liveness import ReplicaLiveness
from .paths import parse_path
from .query import Query

if TYPE_CHECKING:
    from .executor import Executor

logger = logging.getLogger(__name__)
TABLE = "_scheduled_functions"
STATE_INDEX = "by_state"
STATE_FIELDS = ("state.kind", "scheduledTime")
MAX_PER_TRANSACTION = 1000
MAX_TOTAL_ARGS_BYTES = 16 * 1024 * 1024
MAX_OFFSET_MS = 5 * 366 * 24 * 3600 * 1000
"""Convex's limits: jobs per mutation, their arguments together, and how far from now a job may be."""
TRANSIENT_ACTION_ERROR = "Transient error while executing action"


class _Skipped:
    """A job another replica (or a cancel) already took: nothing to do."""


SKIPPED = _Skipped()


@dataclass
class ScheduleBudget:
    """What one transaction has scheduled so far, against Convex's per-transaction limits."""

    count: int = 0
    args_bytes: int = 0


def _now_ms() -> float:
    return time.time() * 1000


def is_terminal(state: dict[str, Any]) -> bool:
    return state.get("kind") in ("success", "failed", "canceled")


class ScheduledJobs:
    """Scheduling and cancelling, against a transaction: what ``ctx.scheduler`` does in either language."""

    def __init__(self, executor: "Executor"):
        self.executor = executor

    async def table(self) -> Any:
        return await self.executor.db.ensure_table(TABLE, SYSTEM_TABLES[TABLE])

    def check_target(self, name: Any) -> str:
        """The canonical path (``module.js:name``) of a function that may be scheduled, or the
        reference error for one that does not exist."""
        if not isinstance(name, str):
            raise SyscallError("Scheduling needs a function reference (api.module.function) or a \"module:function\" path")
        path = parse_path(name)
        registry = self.executor.registry
        if registry.get(path) is None:
            if not registry.has_module(path.module):
                raise SyscallError(f"Attempted to schedule function at nonexistent path: {path.module}")
            raise SyscallError(f"Attempted to schedule function, but no exported function {path.name} found in the file: "
                               f"{path.module}. Did you forget to export it?")
        return path.canonical

    async def schedule(self, tx: Any, name: Any, ts_s: Any, args: Any, budget: ScheduleBudget) -> str:
        """Insert a pending job into ``tx``; returns its id."""
        await self.executor.refresh_code()
        canonical = self.check_target(name)
        if not isinstance(ts_s, (int, float)) or isinstance(ts_s, bool) or ts_s != ts_s:
            raise SyscallError("The scheduled time must be a number (seconds since the epoch)")
        scheduled_ms = float(ts_s) * 1000
        now = _now_ms()
        if abs(scheduled_ms - now) > MAX_OFFSET_MS:
            direction = "future" if scheduled_ms > now else "past"
            raise SyscallError(f"InvalidScheduledFunctionDelay: {scheduled_ms / 1000:.0f} is more than 5 years in the {direction}")
        if not isinstance(args, dict):
            raise SyscallError("The arguments of a scheduled function must be an object")
        budget.count += 1
        budget.args_bytes += size_of(args)
        if budget.count > MAX_PER_TRANSACTION:
            raise SyscallError(f"TooManyFunctionsScheduled: Too many functions scheduled by this mutation (limit: {MAX_PER_TRANSACTION})")
        if budget.args_bytes > MAX_TOTAL_ARGS_BYTES:
            raise SyscallError(f"ScheduledFunctionsArgumentsTooLarge: the arguments of the functions scheduled by this mutation "
                               f"are too large (limit: {MAX_TOTAL_ARGS_BYTES} bytes)")
        table = await self.table()
        return await tx.insert(table, {"name": canonical, "args": [args], "scheduledTime": scheduled_ms, "state": {"kind": "pending"}})

    async def cancel(self, tx: Any, job_id: Any) -> None:
        """Cancel a pending or running job; a finished one is left as it is (as in Convex)."""
        table = await self.table()
        decoded = try_decode(job_id) if isinstance(job_id, str) else None
        if decoded is None or decoded.table_number != table.number:
            raise SyscallError("InvalidArgument: Invalid scheduled function ID. The ID must be an ID on the '_scheduled_functions' table.")
        job = await tx.get(table, decoded.internal_id)
        if job is None or is_terminal(job["state"]):
            return
        await tx.replace(table, decoded.internal_id, {**job, "state": {"kind": "canceled"}, "completedTime": _now_ms()})

    async def schedule_now(self, name: Any, ts_s: Any, args: Any) -> str:
        """From an action: a transaction of its own, committed at once."""
        budget = ScheduleBudget()

        async def body(tx: Any) -> str:
            budget.count = budget.args_bytes = 0  # a retry starts over
            return await self.schedule(tx, name, ts_s, args, budget)

        job_id, _ = await self.executor.db.run_mutation(body)
        return job_id

    async def cancel_now(self, job_id: Any) -> None:
        await self.executor.db.run_mutation(lambda tx: self.cancel(tx, job_id))

    async def syscall(self, tx: Any, budget: ScheduleBudget | None, op: str, args: Any) -> Any:
        """``1.0/schedule`` / ``1.0/cancel_job`` from a mutation (``tx``), or their ``1.0/actions/``
        forms from an action (``tx`` None)."""
        if not isinstance(args, dict):
            raise SyscallError(f"{op} takes an object")
        if op in ("1.0/schedule", "1.0/actions/schedule"):
            if "name" not in args:
                raise SyscallError("Scheduling components' functions and function handles is not supported by this deployment yet")
            name, ts_s, call_args = args.get("name"), args.get("ts"), cjson.from_json(args.get("args") or {})
            if tx is None:
                return await self.schedule_now(name, ts_s, call_args)
            assert budget is not None
            return await self.schedule(tx, name, ts_s, call_args, budget)
        if tx is None:
            await self.cancel_now(args.get("id"))
        else:
            await self.cancel(tx, args.get("id"))
        return None


SCHEDULER_OPS = frozenset({"1.0/schedule", "1.0/cancel_job", "1.0/actions/schedule", "1.0/actions/cancel_job"})


class Scheduler(BackgroundService):
    """Runs the due jobs of the deployment, ``parallelism`` at a time on this replica."""

    name = "scheduler"

    def __init__(self, executor: "Executor", liveness: ReplicaLiveness, parallelism: int = 8, poll_s: float = 1.0,
                 retention_s: float = 7 * 86400):
        super().__init__()
        self.retention_s = retention_s
        """Finished jobs are deleted this long after they finished (Convex: 7 days)."""
        self.executor = executor
        self.jobs = ScheduledJobs(executor)
        self.parallelism = parallelism
        self.poll_s = poll_s
        """Longest sleep without a commit: jobs come due with time, not only with commits."""
        self.liveness = liveness
        self._running: dict[str, asyncio.Task] = {}
        self._wake = asyncio.Event()

    def watch(self) -> None:
        """Wake on every commit that writes jobs (this replica's or, through the commit log, another's)."""
        self.executor.db.on_table_write(SYSTEM_TABLES[TABLE], self._wake.set)

    async def prepare(self) -> None:
        """The table and its index (a deployment commit on first start)."""
        await self.jobs.table()
        await self.executor.db.schemas.ensure_system_index(TABLE, STATE_INDEX, list(STATE_FIELDS))

    async def stop(self, timeout_s: float = 5.0) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await super().stop(timeout_s)

    async def run(self) -> None:
        recovered_at = 0.0
        housekeeping_s = min(10 * self.poll_s, max(self.retention_s, 0.1))  # at least as often as jobs expire
        while True:
            try:
                if time.monotonic() - recovered_at > housekeeping_s:
                    recovered_at = time.monotonic()
                    await self._fail_orphaned_actions()
                    await self._delete_finished()
                wait_s = await self._start_due()
            except (ConvexpyError, OSError) as exc:
                logger.warning("the scheduler could not read its jobs (%s); trying again", exc)
                wait_s = self.poll_s
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait_s, 0.001))
            except asyncio.TimeoutError:
                pass

    async def _pending(self, limit: int) -> list[dict[str, Any]]:
        tx = self.executor.db.begin(writable=False)
        table = self.executor.db.catalog.by_name.get(TABLE)
        if table is None or STATE_INDEX not in table.indexes:
            return []
        return await Query(tx, table, TABLE).with_index(STATE_INDEX, lambda q: q.eq("state.kind", "pending")).take(limit)

    async def _start_due(self) -> float:
        """Start the due jobs this replica has room for; returns how long to sleep."""
        room = self.parallelism - len(self._running)
        if room <= 0:
            return self.poll_s
        now = _now_ms()
        wait_s = self.poll_s
        for job in await self._pending(room + len(self._running)):
            if job["scheduledTime"] > now:
                wait_s = min(wait_s, (job["scheduledTime"] - now) / 1000)
                break
            if job["_id"] in self._running or room <= 0:
                continue
            room -= 1
            task = asyncio.create_task(self._run_job(job))
            self._running[job["_id"]] = task
            task.add_done_callback(lambda _, job_id=job["_id"]: self._finished(job_id))
        return wait_s

    def _finished(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        self._wake.set()  # room for the next one

    # --- one job ---------------------------------------------------------------------

    async def _run_job(self, job: dict[str, Any]) -> None:
        try:
            await self.executor.refresh_code()
            function = self._function(job)
            if isinstance(function, str):
                await self._finish(job["_id"], "pending", {"kind": "failed", "error": function})
            elif function.kind == FunctionKind.MUTATION:
                await self._run_mutation_job(job, function)
            else:
                await self._run_action_job(job, function)
        except asyncio.CancelledError:
            raise
        except (RequestError, ConvexpyError, OSError) as exc:  # the database is away: the job stays pending
            logger.warning("scheduled job %s (%s) did not run (%s); it will be tried again", job["_id"], job["name"], exc)
        except Exception:  # noqa: BLE001 - a bug here must not stop the scheduler
            logger.exception("scheduled job %s (%s) failed to run", job["_id"], job["name"])

    def _function(self, job: dict[str, Any]) -> ConvexFunction | str:
        """The job's function, or why it cannot run (its failure message)."""
        path = parse_path(job["name"])
        function = self.executor.registry.get(path)
        if function is None:
            return f"Could not find function for '{path}'. Did you forget to run `npx convex dev`?"
        if function.kind not in (FunctionKind.MUTATION, FunctionKind.ACTION):
            return (f"Unsupported function type. {path.canonical} is a {function.kind.value}: only Mutation and Action "
                    "functions can be scheduled.")
        return function

    def _job_id(self, job: dict[str, Any]) -> bytes:
        return DocumentId.decode(job["_id"]).internal_id

    async def _run_mutation_job(self, job: dict[str, Any], function: ConvexFunction) -> None:
        table = await self.jobs.table()
        internal_id = self._job_id(job)

        async def around(tx: Any, run: Callable[[], Awaitable[Any]]) -> Any:
            current = await tx.get(table, internal_id)
            if current is None or current["state"]["kind"] != "pending":
                return SKIPPED
            value = await run()
            await tx.replace(table, internal_id, {**current, "state": {"kind": "success"}, "completedTime": _now_ms()})
            return value

        outcome = await self.executor.run_scheduled(function, job["args"], around)
        if not outcome.success:  # the mutation's writes were rolled back; the job records why
            await self._finish(job["_id"], "pending", {"kind": "failed", "error": outcome.error_message.rstrip("\n")})

    async def _run_action_job(self, job: dict[str, Any], function: ConvexFunction) -> None:
        table = await self.jobs.table()
        internal_id = self._job_id(job)
        execution = self.liveness.execution_id()

        async def claim(tx: Any) -> bool:
            current = await tx.get(table, internal_id)
            if current is None or current["state"]["kind"] != "pending":
                return False
            await tx.replace(table, internal_id, {**current, "state": {"kind": "inProgress", "execution_id": execution}})
            return True

        claimed, _ = await self.executor.db.run_mutation(claim)
        if not claimed:
            return
        outcome = await self.executor.run_scheduled(function, job["args"], None)
        state = {"kind": "success"} if outcome.success else {"kind": "failed", "error": outcome.error_message.rstrip("\n")}
        for attempt in range(60):  # the completion write lands, however long the database is away
            try:
                await self._finish(job["_id"], "inProgress", state)
                return
            except (RequestError, ConvexpyError, OSError):
                await asyncio.sleep(min(2 ** attempt * 0.1, 10))

    async def _finish(self, job_id: str, expected: str, state: dict[str, Any]) -> None:
        """Mark the job ``state`` if it is still in the ``expected`` state (a cancel wins)."""
        table = await self.jobs.table()
        internal_id = DocumentId.decode(job_id).internal_id

        async def body(tx: Any) -> None:
            current = await tx.get(table, internal_id)
            if current is None or current["state"]["kind"] != expected:
                return
            await tx.replace(table, internal_id, {**current, "state": state, "completedTime": _now_ms()})

        await self.executor.db.run_mutation(body)

    async def _fail_orphaned_actions(self) -> None:
        """Actions left ``inProgress`` by a replica that is gone: failed (they ran at most once)."""
        table = self.executor.db.catalog.by_name.get(TABLE)
        if table is None or STATE_INDEX not in table.indexes:
            return
        tx = self.executor.db.begin(writable=False)
        running = await Query(tx, table, TABLE).with_index(STATE_INDEX, lambda q: q.eq("state.kind", "inProgress")).take(1000)
        for job in running:
            if await self.liveness.owner_gone(job["state"].get("execution_id")):
                logger.warning("scheduled action %s (%s) was running on a replica that stopped: marked failed", job["_id"], job["name"])
                await self._finish(job["_id"], "inProgress", {"kind": "failed", "error": TRANSIENT_ACTION_ERROR})

    async def _delete_finished(self, batch: int = 1000) -> None:
        """Delete jobs that finished more than ``retention_s`` ago, a batch per state per round."""
        table = self.executor.db.catalog.by_name.get(TABLE)
        if table is None or STATE_INDEX not in table.indexes:
            return
        horizon = _now_ms() - self.retention_s * 1000

        async def body(tx: Any) -> int:
            deleted = 0
            for kind in ("success", "failed", "canceled"):
                finished = Query(tx, table, TABLE).with_index(STATE_INDEX, lambda q, kind=kind: q.eq("state.kind", kind))
                for job in await finished.take(batch):
                    if job.get("completedTime", horizon) < horizon:
                        await tx.delete(table, DocumentId.decode(job["_id"]).internal_id)
                        deleted += 1
            return deleted

        deleted, _ = await self.executor.db.run_mutation(body)
        if deleted:
            logger.info("deleted %d scheduled job(s) finished more than %g s ago", deleted, self.retention_s)
