"""Crons: registered from ``crons.ts`` (a push) and ``crons.py`` (the functions folder), run on time.

The registered crons are documents of the ``_cron_jobs`` system table: the
identifier (``name``), the spec as the reference backend stores it
(``cronSpec``: ``udfPath``, ``udfArgs``, ``cronSchedule``), when it runs next
(``nextTs``, ms; indexed) and ran last (``prevTs``, ``lastRun``), and its
``state`` (``pending``, or ``inProgress`` while an action runs). Every replica
reconciles the table with the code it serves at start and after every push
(:func:`register`): added crons get their first time, changed ones their new
spec (and a new time if the schedule changed), removed ones are deleted.

Every replica runs a :class:`CronRunner`, the scheduler's twin: a mutation
cron's run and its advance to the next time commit in one transaction, so a run
happens once per tick however many replicas race for it; an action cron is
claimed first and run at most once. After downtime the overdue run happens
once and the runs missed meanwhile are skipped (logged), as in Convex.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..database.catalog import SYSTEM_TABLES
from ..database.readset import Interval
from ..errors import ConvexpyError, RequestError
from ..services import BackgroundService
from ..values import json as cjson
from ..values.ids import DocumentId
from .cron_specs import CronSpec, first_run, next_run, spec_from_export
from .functions import ConvexFunction, FunctionKind
from .liveness import ReplicaLiveness
from .paths import parse_path
from .query import Query
from .scheduler import SKIPPED, TRANSIENT_ACTION_ERROR

if TYPE_CHECKING:
    from .executor import Executor

logger = logging.getLogger(__name__)
TABLE = "_cron_jobs"
NEXT_INDEX = "by_next_ts"


def _now_ms() -> float:
    return time.time() * 1000


def served_specs(executor: "Executor") -> dict[str, CronSpec]:
    """The crons of the code this replica serves: the functions folder's, then the push's (a push's
    cron of the same name replaces the folder's, as its functions do in a folder that yields)."""
    specs = dict(executor.registry.crons)
    pushed = executor.pushed.declared("cronSpecs") if executor.pushed is not None else None
    for identifier, exported in (pushed or {}).items():
        specs[identifier] = spec_from_export(identifier, exported)
    return specs


async def register(executor: "Executor") -> None:
    """Make ``_cron_jobs`` hold exactly the served crons (one transaction; nothing written if it does)."""
    await executor.refresh_code()
    wanted = served_specs(executor)
    database = executor.db
    table = await database.ensure_table(TABLE, SYSTEM_TABLES[TABLE])

    async def body(tx: Any) -> None:
        scan = tx.scan(table.by_id, Interval(b"", None))
        try:
            current = {document["name"]: document async for document in scan}
        finally:
            scan.close()
        now = _now_ms()
        for identifier, spec in wanted.items():
            existing = current.pop(identifier, None)
            stored = spec.to_json()
            if existing is None:
                await tx.insert(table, {"name": identifier, "cronSpec": stored, "nextTs": first_run(spec.schedule, now),
                                        "prevTs": None, "state": {"type": "pending"}})
            elif existing["cronSpec"] != stored:
                same_schedule = existing["cronSpec"].get("cronSchedule") == spec.schedule
                next_ts = existing["nextTs"] if same_schedule else first_run(spec.schedule, now)
                await tx.replace(table, DocumentId.decode(existing["_id"]).internal_id, {**existing, "cronSpec": stored, "nextTs": next_ts})
        for gone in current.values():
            await tx.delete(table, DocumentId.decode(gone["_id"]).internal_id)

    await database.run_mutation(body)


class CronRunner(BackgroundService):
    """Runs the crons that are due, ``parallelism`` at a time on this replica, never two runs of one cron."""

    name = "cron runner"

    def __init__(self, executor: "Executor", liveness: ReplicaLiveness, parallelism: int = 8, poll_s: float = 1.0):
        super().__init__()
        self.executor = executor
        self.liveness = liveness
        self.parallelism = parallelism
        self.poll_s = poll_s
        self._running: dict[str, asyncio.Task] = {}
        self._wake = asyncio.Event()
        self._registering: asyncio.Task | None = None

    async def prepare(self) -> None:
        """The table, its index, and the served crons registered."""
        await self.executor.db.ensure_table(TABLE, SYSTEM_TABLES[TABLE])
        await self.executor.db.schemas.ensure_system_index(TABLE, NEXT_INDEX, ["nextTs"])
        await register(self.executor)

    def watch(self) -> None:
        """Wake on commits that write crons; register again after every push."""
        self.executor.db.on_table_write(SYSTEM_TABLES[TABLE], self._wake.set)
        if self.executor.pushed is not None:
            self.executor.pushed.on_change.append(self._push_changed)

    def _push_changed(self) -> None:
        if self._registering is None or self._registering.done():
            self._registering = asyncio.get_running_loop().create_task(self._register_again())

    async def _register_again(self) -> None:
        try:
            await register(self.executor)
        except Exception:  # noqa: BLE001 - the next push or start registers again
            logger.exception("registering the crons of a push failed")

    async def stop(self, timeout_s: float = 5.0) -> None:
        for task in [*self._running.values(), *([self._registering] if self._registering else [])]:
            task.cancel()
        await super().stop(timeout_s)

    async def run(self) -> None:
        checked_at = 0.0
        while True:
            try:
                if time.monotonic() - checked_at > 10 * self.poll_s:
                    checked_at = time.monotonic()
                    await self._fail_orphaned_actions()
                wait_s = await self._start_due()
            except (ConvexpyError, OSError) as exc:
                logger.warning("the cron runner could not read its crons (%s); trying again", exc)
                wait_s = self.poll_s
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait_s, 0.001))
            except asyncio.TimeoutError:
                pass

    def _table(self) -> Any:
        table = self.executor.db.catalog.by_name.get(TABLE)
        return table if table is not None and NEXT_INDEX in table.indexes else None

    async def _start_due(self) -> float:
        table = self._table()
        if table is None:
            return self.poll_s
        tx = self.executor.db.begin(writable=False)
        now = _now_ms()
        wait_s = self.poll_s
        for cron in await Query(tx, table, TABLE).with_index(NEXT_INDEX).take(self.parallelism + len(self._running) + 16):
            if cron["nextTs"] > now:
                wait_s = min(wait_s, (cron["nextTs"] - now) / 1000)
                break
            if cron["name"] in self._running or cron["state"]["type"] != "pending" or len(self._running) >= self.parallelism:
                continue
            task = asyncio.create_task(self._run_cron(table, cron))
            self._running[cron["name"]] = task
            task.add_done_callback(lambda _, name=cron["name"]: self._finished(name))
        return wait_s

    def _finished(self, name: str) -> None:
        self._running.pop(name, None)
        self._wake.set()

    async def _run_cron(self, table: Any, cron: dict[str, Any]) -> None:
        try:
            await self.executor.refresh_code()
            spec = cron["cronSpec"]
            function = self.executor.registry.get(parse_path(spec["udfPath"]))
            if function is None or function.kind not in (FunctionKind.MUTATION, FunctionKind.ACTION):
                problem = (f"Could not find function for '{spec['udfPath']}'" if function is None
                           else f"Unsupported function type. Only mutations and actions can run as crons, not a {function.kind.value}")
                await self._advance(table, cron, "pending", {"status": "err", "error": problem})
            elif function.kind == FunctionKind.MUTATION:
                await self._run_mutation_cron(table, cron, function)
            else:
                await self._run_action_cron(table, cron, function)
        except asyncio.CancelledError:
            raise
        except (RequestError, ConvexpyError, OSError) as exc:
            logger.warning("cron %r did not run (%s); it will be tried again", cron["name"], exc)
        except Exception:  # noqa: BLE001 - a bug here must not stop the runner
            logger.exception("cron %r failed to run", cron["name"])

    def _args(self, cron: dict[str, Any]) -> list[Any]:
        return [cjson.from_json(value) for value in cron["cronSpec"].get("udfArgs") or [{}]]

    async def _run_mutation_cron(self, table: Any, cron: dict[str, Any], function: ConvexFunction) -> None:
        internal_id = DocumentId.decode(cron["_id"]).internal_id

        async def around(tx: Any, run: Callable[[], Awaitable[Any]]) -> Any:
            current = await tx.get(table, internal_id)
            if current is None or current["nextTs"] != cron["nextTs"] or current["state"]["type"] != "pending":
                return SKIPPED  # another replica ran this tick
            value = await run()
            await self._write_advance(tx, table, current, {"status": "success"})
            return value

        outcome = await self.executor.run_scheduled(function, self._args(cron), around)
        if not outcome.success:
            await self._advance(table, cron, "pending", {"status": "err", "error": outcome.error_message.rstrip("\n")})

    async def _run_action_cron(self, table: Any, cron: dict[str, Any], function: ConvexFunction) -> None:
        internal_id = DocumentId.decode(cron["_id"]).internal_id
        execution = self.liveness.execution_id()

        async def claim(tx: Any) -> bool:
            current = await tx.get(table, internal_id)
            if current is None or current["nextTs"] != cron["nextTs"] or current["state"]["type"] != "pending":
                return False
            await tx.replace(table, internal_id, {**current, "state": {"type": "inProgress", "execution_id": execution}})
            return True

        claimed, _ = await self.executor.db.run_mutation(claim)
        if not claimed:
            return
        outcome = await self.executor.run_scheduled(function, self._args(cron), None)
        result = {"status": "success"} if outcome.success else {"status": "err", "error": outcome.error_message.rstrip("\n")}
        for attempt in range(60):  # the advance lands, however long the database is away
            try:
                await self._advance(table, cron, "inProgress", result)
                return
            except (RequestError, ConvexpyError, OSError):
                await asyncio.sleep(min(2 ** attempt * 0.1, 10))

    async def _advance(self, table: Any, cron: dict[str, Any], expected: str, result: dict[str, Any]) -> None:
        """Record the run of ``cron``'s tick and move it to its next time, if it is still at that tick."""
        internal_id = DocumentId.decode(cron["_id"]).internal_id

        async def body(tx: Any) -> None:
            current = await tx.get(table, internal_id)
            if current is None or current["nextTs"] != cron["nextTs"] or current["state"]["type"] != expected:
                return
            await self._write_advance(tx, table, current, result)

        await self.executor.db.run_mutation(body)

    async def _write_advance(self, tx: Any, table: Any, current: dict[str, Any], result: dict[str, Any]) -> None:
        scheduled = current["nextTs"]
        following, skipped = next_run(current["cronSpec"]["cronSchedule"], scheduled, _now_ms())
        if skipped:
            logger.warning("Skipping %d run(s) of cron %r because multiple scheduled runs are in the past", skipped, current["name"])
        await tx.replace(table, DocumentId.decode(current["_id"]).internal_id, {
            **current, "prevTs": scheduled, "nextTs": following, "state": {"type": "pending"},
            "lastRun": {"ts": scheduled, **result, **({"skipped": skipped} if skipped else {})},
        })

    async def _fail_orphaned_actions(self) -> None:
        table = self._table()
        if table is None:
            return
        tx = self.executor.db.begin(writable=False)
        scan = tx.scan(table.by_id, Interval(b"", None))
        try:
            running = [cron async for cron in scan if cron["state"]["type"] == "inProgress"]
        finally:
            scan.close()
        for cron in running:
            if await self.liveness.owner_gone(cron["state"].get("execution_id")):
                logger.warning("cron %r was running on a replica that stopped: recorded as failed", cron["name"])
                await self._advance(table, cron, "inProgress", {"status": "err", "error": TRANSIENT_ACTION_ERROR})
