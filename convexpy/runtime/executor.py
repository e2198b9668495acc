"""Runs functions: resolves the path, checks visibility and arguments, runs the handler,
and turns every outcome into an :class:`Outcome` that the HTTP and WebSocket layers encode.

Outcomes, not exceptions, cross this boundary: a function that raised is a
normal result with ``success=False``. Exceptions that do escape are system
errors (:class:`~convexpy.errors.RequestError`), answered with a status code.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import orjson

from ..database import Database
from ..database.committer import SessionRecord
from ..database.readset import ReadSet
from ..errors import (
    ArgumentValidationError,
    ConflictError,
    ConvexError,
    ConvexpyError,
    FunctionError,
    OutOfRetention,
    Overloaded,
    RequestError,
    ReturnsValidationError,
    SyscallError,
)
from ..settings import Settings
from ..values import json as cjson
from ..values.model import MAX_VALUE_SIZE, format_size, normalize, normalize_sized, size_of
from ..values.validators import ValidationFailure, render
from . import environment
from .context import ActionCtx, MutationCtx, QueryCtx
from .functions import ConvexFunction, FunctionKind
from .js.pushed import PushedCode
from .js.sourcemap import remap
from .loader import FunctionRegistry
from .logs import LogCapture
from .paths import FunctionPath, parse_path
from .pool import RERUNS, RunnerDied, RunnerPool
from .scheduler import SCHEDULER_OPS, ScheduledJobs
from .slots import FunctionSlots
from .syscalls import SyscallHost

MAX_ARGS_SIZE = 16 * 1024 * 1024
MAX_CALL_DEPTH = 8
RUNNER_DIED_REPEATEDLY = ("Uncaught Error: the function's runner process stopped every time it ran it "
                          "(it may have run out of memory: a JavaScript heap or the runner's --runner-memory-mb)")
STALE_SNAPSHOT_RETRIES = 3
_NO_DATA = object()


@dataclass(frozen=True)
class Identity:
    """Who is calling: an admin (may call internal functions) and/or a user identity."""

    admin: bool = False
    user: dict[str, Any] | None = None

    def key(self) -> str:
        """Who this is, as one string: what a stored mutation outcome is bound to."""
        if self.user is not None:
            return ("admin-as:" if self.admin else "user:") + str(self.user.get("tokenIdentifier", ""))
        return "admin" if self.admin else ""


ANONYMOUS = Identity()
SCHEDULED = Identity(admin=True)
"""Who runs scheduled jobs and crons: the system (internal functions allowed), with no user identity."""
Around = Callable[[Any, Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""Wraps a mutation's run in its transaction: ``around(tx, run)`` (the scheduler's job bookkeeping)."""


@dataclass
class Outcome:
    success: bool
    value: Any = None
    error_message: str = ""
    error_data: Any = _NO_DATA
    log_lines: list[str] = field(default_factory=list)
    ts: int | None = None
    """Commit ts of a mutation, snapshot ts of a query."""
    read_set: ReadSet | None = None
    journal: str | None = None
    """A query's journal: the end cursor of its paginate() call, for stable pages on re-runs."""
    uses_identity: bool = True
    """False when a query never read ``ctx.auth``: its result is the same for every caller."""

    @property
    def has_error_data(self) -> bool:
        return self.error_data is not _NO_DATA


class NotFoundStyle:
    """Which "not found" wording an endpoint uses (they differ in the reference backend)."""

    PUBLIC = "public"
    ANY = "any"


def _render_error_data(data: Any) -> str:
    if isinstance(data, str):
        return data
    try:
        return json.dumps(_plain(data), separators=(",", ":"))[:16384]
    except (TypeError, ValueError):
        return repr(data)


def _plain(value: Any) -> Any:
    """A JSON-able rendering that prints numbers as JavaScript does (``1``, not ``1.0``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, bytes):
        return "<bytes>"
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _frames(exc: BaseException, functions_root: Path | None) -> str:
    """Stack frames inside the user's functions, formatted like V8's ``    at fn (file:line)``."""
    lines = []
    for frame in traceback.extract_tb(exc.__traceback__):
        filename = frame.filename
        if functions_root is not None:
            try:
                filename = os.path.relpath(filename, functions_root.parent)
            except ValueError:
                pass
            if not os.path.abspath(frame.filename).startswith(str(functions_root)):
                continue
        lines.append(f"    at {frame.name} ({filename}:{frame.lineno})\n")
    return "".join(lines)


class GuestFailure(Exception):
    """A function failed in a runner process: its message is already rendered there."""

    def __init__(self, message: str, data: Any = _NO_DATA):
        super().__init__(message)
        self.message = message
        self.data = data


class ActionSyscalls:
    """What an action in a runner may call: other functions and auth (``1.0/actions/*``)."""

    def __init__(self, executor: "Executor", identity: Identity, log_lines: list[str], depth: int):
        self._executor = executor
        self._identity = identity
        self._log_lines = log_lines
        self._depth = depth

    async def call(self, op: str, args_json: str) -> str:
        kinds = {"1.0/actions/query": FunctionKind.QUERY, "1.0/actions/mutation": FunctionKind.MUTATION,
                 "1.0/actions/action": FunctionKind.ACTION}
        args = orjson.loads(args_json)
        if op == "1.0/getUserIdentity":
            return orjson.dumps(None if self._identity.user is None else cjson.to_json(self._identity.user)).decode()
        if op == "environmentVariables/get":
            if not isinstance(args, dict) or not isinstance(args.get("name"), str):
                raise SyscallError("environmentVariables/get takes {\"name\": string}")
            tx = self._executor.db.begin(writable=False)
            return orjson.dumps(await environment.lookup(tx, args["name"], self._executor.built_in_env)).decode()
        if op in SCHEDULER_OPS:
            if not op.startswith("1.0/actions/"):
                raise SyscallError(f"{op} is the mutation form; actions send 1.0/actions/{op[4:]}")
            return orjson.dumps(await self._executor.scheduled.syscall(None, None, op, args)).decode()
        if op == "1.0/actions/vectorSearch":
            index = (args.get("query") or {}).get("indexName") if isinstance(args, dict) else None
            raise SyscallError(f"Vector search is not supported by this deployment yet (ctx.vectorSearch on {index!r}); "
                               "its index definition is stored, so it will work once it is.")
        if op not in kinds:
            raise SyscallError(f"Unknown async operation {op}")
        value = await self._executor.run_nested(
            args.get("name"), cjson.from_json(args.get("args") or {}), kinds[op], self._identity, self._log_lines, self._depth
        )
        return orjson.dumps(cjson.to_json(value)).decode()


def describe_exception(exc: BaseException, functions_root: Path | None) -> str:
    """The ``errorMessage`` body for an exception raised while a function ran."""
    if isinstance(exc, GuestFailure):
        return exc.message if exc.message.endswith("\n") else exc.message + "\n"
    if isinstance(exc, FunctionError):
        return exc.message + "\n"
    if isinstance(exc, ConvexError):
        head = f"Uncaught ConvexError: {exc.message if exc.message is not None else _render_error_data(exc.data)}"
    elif isinstance(exc, ConvexpyError):
        head = f"Uncaught Error: {exc}"
    else:
        message = str(exc)
        head = f"Uncaught {type(exc).__name__}: {message}" if message else f"Uncaught {type(exc).__name__}"
    return head + "\n" + _frames(exc, functions_root)


class Executor:
    def __init__(
        self, registry: FunctionRegistry, database: Database, functions_root: Path | None = None, settings: Settings | None = None
    ):
        self.registry = registry
        self.db = database
        self.functions_root = functions_root.resolve() if functions_root else None
        self.pool: RunnerPool | None = None
        """Runner processes for user code (``--runners``); None runs it in this process."""
        self.node_pool: RunnerPool | None = None
        """Node.js runners for the actions of "use node" modules; None where there is no ``node``."""
        self.pushed: PushedCode | None = None
        """The last push's JavaScript (``npx convex deploy``), if this deployment serves pushes."""
        self.code_generation = 0
        """Bumped when the functions folder is loaded again (``convexpy dev``)."""
        self.scheduled = ScheduledJobs(self)
        """``ctx.scheduler``'s host side, for both languages (the jobs run in ``runtime/scheduler.py``)."""
        settings = settings or Settings.defaults()
        cloud_url, site_url = settings.urls
        self.built_in_env = {"CONVEX_CLOUD_URL": cloud_url, "CONVEX_SITE_URL": site_url}
        """What functions read as CONVEX_CLOUD_URL / CONVEX_SITE_URL (no variable may override them)."""
        self.user_timeout_s = settings.user_timeout_s
        self.action_timeout_s = settings.action_timeout_s
        wait_s = settings.function_wait_ms / 1000
        self.slots = {
            FunctionKind.QUERY: FunctionSlots("queries", settings.max_concurrent_queries, wait_s),
            FunctionKind.MUTATION: FunctionSlots("mutations", settings.max_concurrent_mutations, wait_s),
            FunctionKind.ACTION: FunctionSlots("actions", settings.max_concurrent_actions, wait_s),
        }
        """Convex's concurrency limits, taken by calls from outside (``run``), not by nested calls."""

    async def _in_runner(self, function: ConvexFunction, args: dict, host: Any, lines: list[str], limit_s: float) -> Any:
        """Run ``function`` in a runner process, answering its syscalls with ``host``."""
        assert self.pool is not None and function.path is not None
        answer, js, pool = host.call, None, self.pool
        if function.js is not None:
            js = {"module": function.js.module, "name": function.js.name, "push": function.js.push,
                  "seed": int.from_bytes(os.urandom(4), "little"), "now": time.time() * 1000}
            answer = self._with_pushed_modules(host.call)
            if function.js.environment == "node":
                if self.node_pool is None:
                    raise FunctionError(f"{function.path} is a \"use node\" action, and this server has no Node.js runtime "
                                        "(install node, or set --node).")
                pool = self.node_pool
                js["env"] = await environment.snapshot(self.db, self.built_in_env)  # Node's process.env for the call
        result = await pool.call(function.kind.value, function.path, cjson.to_json(args), answer, limit_s, js)
        lines.extend(result.log_lines or [])
        if function.js is not None and function.js.environment == "node" and not result.ok and self.pushed is not None:
            result.message = remap(result.message, self.pushed.source_maps)  # the V8 guest maps its own
        if result.ok:
            return cjson.from_json(result.value)
        raise GuestFailure(result.message, cjson.from_json(result.error_data) if result.has_error_data else _NO_DATA)
    def _with_pushed_modules(self, answer: Any) -> Any:
        """``answer``, plus the one host syscall of the JavaScript guest: the push's module sources."""
        pushed = self.pushed

        async def call(op: str, args_json: str) -> str:
            if op == "convexpy/pushedModules":
                assert pushed is not None
                request = orjson.loads(args_json)
                if request.get("push") != pushed.push_id:
                    raise FunctionError("The deployment's code changed while this function started; try again.")
                return orjson.dumps(pushed.sources(request.get("environment", "isolate"))).decode()
            return await answer(op, args_json)

        return call

    # --- resolution ------------------------------------------------------------------

    def resolve(
        self, path: FunctionPath, identity: Identity, expected: FunctionKind | None, style: str = NotFoundStyle.PUBLIC
    ) -> ConvexFunction:
        function = self.registry.get(path)
        if function is None or function.kind == FunctionKind.HTTP_ACTION or (not function.public and not identity.admin):
            if style == NotFoundStyle.PUBLIC:
                raise FunctionError(f"Could not find public function for '{path}'.")
            raise FunctionError(f"Could not find function for '{path}'. Did you forget to run `npx convex dev`?")
        if expected is not None and function.kind != expected:
            raise FunctionError(
                f"Trying to execute {path.canonical} as {expected.value}, but it is defined as {function.kind.value}."
            )
        return function

    # --- running ---------------------------------------------------------------------

    async def run(
        self,
        path: str | FunctionPath,
        args: list[Any],
        identity: Identity = ANONYMOUS,
        *,
        expected: FunctionKind | None = None,
        style: str = NotFoundStyle.PUBLIC,
        snapshot_ts: int | None = None,
        journal: str | None = None,
        session: tuple[str, int] | None = None,
    ) -> Outcome:
        """Run a function called from outside (HTTP, WebSocket).

        ``journal`` is a subscription's journal (queries); ``session`` is the
        ``(session id, request id)`` of a WebSocket mutation, whose outcome is then
        stored with its writes.
        """
        function_path = parse_path(path) if isinstance(path, str) else path
        await self.refresh_code()
        try:
            function = self.resolve(function_path, identity, expected, style)
            call_args = self._validate_args(function, function_path, args)
        except FunctionError as error:
            return Outcome(False, error_message=error.message + "\n", uses_identity=False)
        async with self.slots[function.kind]:
            return await self._execute(function, call_args, identity, 0, snapshot_ts=snapshot_ts, journal=journal, session=session)

    def _validate_args(self, function: ConvexFunction, path: FunctionPath, args: list[Any]) -> dict[str, Any]:
        if size_of(args) > MAX_ARGS_SIZE:
            raise FunctionError(
                f"Arguments for {path} are too large (actual: {format_size(size_of(args))}, limit: {format_size(MAX_ARGS_SIZE)})"
            )
        if function.args is None:
            return args[0] if args else {}
        if len(args) != 1:
            raise ArgumentValidationError(
                f"Expected to receive a single object as the function's argument. Instead received {len(args)} arguments: {render(args)}"
            )
        if not isinstance(args[0], dict):
            raise ArgumentValidationError(f"Expected to receive an object as the function's argument. Instead received: {render(args[0])}")
        try:
            function.args.check(args[0], self.db.catalog.table_name)
        except ValidationFailure as failure:
            raise ArgumentValidationError(str(failure)) from None
        return args[0]

    def _check_returns(self, function: ConvexFunction, value: Any) -> Any:
        value, size = normalize_sized(value)
        if function.returns is not None:
            try:
                function.returns.check(value, self.db.catalog.table_name)
            except ValidationFailure as failure:
                raise ReturnsValidationError(str(failure)) from None
        if size > MAX_VALUE_SIZE // 2:
            raise FunctionError(f"Function return value is too large ({format_size(size)} > maximum size 16 MiB)")
        return value

    async def _execute(
        self,
        function: ConvexFunction,
        args: dict[str, Any],
        identity: Identity,
        depth: int,
        *,
        snapshot_ts: int | None = None,
        journal: str | None = None,
        session: tuple[str, int] | None = None,
    ) -> Outcome:
        if function.js is not None and self.pool is None:
            return Outcome(False, error_message="Uncaught Error: pushed JavaScript functions run in runner processes, and this "
                                                "server runs user code in process (--runners 0)\n")
        if function.kind == FunctionKind.QUERY:
            return await self._run_query(function, args, identity, snapshot_ts, journal)
        if function.kind == FunctionKind.MUTATION:
            return await self._run_mutation(function, args, identity, session)
        return await self._run_action(function, args, identity, depth)

    def _failure(self, exc: BaseException, lines: list[str], **extra: Any) -> Outcome:
        outcome = Outcome(False, error_message=describe_exception(exc, self.functions_root), log_lines=lines, **extra)
        if isinstance(exc, GuestFailure) and exc.data is not _NO_DATA:
            outcome.error_data = exc.data
        if isinstance(exc, ConvexError):
            try:
                outcome.error_data = normalize(exc.data)
            except ConvexpyError:
                outcome.error_data = repr(exc.data)
        return outcome

    async def _run_query(
        self, function: ConvexFunction, args: dict, identity: Identity, snapshot_ts: int | None, journal: str | None
    ) -> Outcome:
        """Run a query at ``snapshot_ts`` (None: the latest). A read refused because retention cut past
        the snapshot is retried at a fresh one, unless the caller asked for that snapshot."""
        for attempt in range(STALE_SNAPSHOT_RETRIES):
            try:
                outcome, tx = await self._run_query_once(function, args, identity, snapshot_ts, journal)
                tx.raise_if_refused()
                return outcome
            except OutOfRetention:
                if snapshot_ts is not None or attempt == STALE_SNAPSHOT_RETRIES - 1:
                    raise
            await self.db.refresh()
        raise AssertionError("unreachable")

    async def _run_query_once(
        self, function: ConvexFunction, args: dict, identity: Identity, snapshot_ts: int | None, journal: str | None
    ) -> tuple[Outcome, Any]:
        for attempt in range(RERUNS + 1):
            tx = self.db.begin(writable=False, snapshot_ts=snapshot_ts)
            tx.journal_in = journal
            ctx = QueryCtx(tx, identity, self.built_in_env)
            host = SyscallHost(tx, identity, self.built_in_env) if self.pool is not None and not function.native else None
            with LogCapture() as logs:
                try:
                    if function.native:
                        value = await function.handler(tx, args)  # convexpy's own: it reads the host's state
                    elif host is None:
                        value = await function.handler(ctx, args)
                    else:
                        value = await self._in_runner(function, args, host, logs.lines, self.user_timeout_s)
                    value = self._check_returns(function, value)
                except RequestError:
                    raise
                except RunnerDied:
                    if attempt == RERUNS:  # it kills every runner it runs on: a failure of the function, not retried
                        return self._failure(FunctionError(RUNNER_DIED_REPEATEDLY), logs.lines, ts=tx.snapshot_ts), tx
                    continue  # invisible to the client: run it again on another runner
                except Exception as exc:  # noqa: BLE001 - every user failure becomes an outcome
                    used = ctx.auth.used or (host is not None and host.identity_used)
                    return self._failure(
                        exc, logs.lines, ts=tx.snapshot_ts, read_set=tx.read_set, journal=tx.journal_out, uses_identity=used
                    ), tx
            used = ctx.auth.used or (host is not None and host.identity_used)
            return Outcome(
                True, value, log_lines=logs.lines, ts=tx.snapshot_ts, read_set=tx.read_set, journal=tx.journal_out, uses_identity=used
            ), tx
        raise AssertionError("unreachable")

    async def _run_mutation(
        self, function: ConvexFunction, args: dict, identity: Identity, session: tuple[str, int] | None,
        around: Around | None = None,
    ) -> Outcome:
        capture: list[LogCapture] = []
        deaths = [0]

        async def run(tx: Any) -> Any:
            logs = LogCapture()
            capture[:] = [logs]
            with logs:
                if self.pool is None:
                    ctx = MutationCtx(tx, identity, self.built_in_env, self.scheduled)
                    return self._check_returns(function, await function.handler(ctx, args))
                try:
                    host = SyscallHost(tx, identity, self.built_in_env, self.scheduled)
                    value = await self._in_runner(function, args, host, logs.lines, self.user_timeout_s)
                except RunnerDied:
                    deaths[0] += 1
                    if deaths[0] > RERUNS:  # it kills every runner it runs on: a failure, not a conflict to retry
                        raise FunctionError(RUNNER_DIED_REPEATEDLY) from None
                    raise ConflictError("the runner died; run the mutation again in a fresh transaction") from None
                return self._check_returns(function, value)

        async def body(tx: Any) -> Any:
            return await run(tx) if around is None else await around(tx, lambda: run(tx))

        def record(value: Any) -> SessionRecord:
            assert session is not None
            return SessionRecord(session[0], session[1], cjson.dumps(value), capture[0].lines, identity.key())

        try:
            value, commit_ts = await self.db.run_mutation(body, record=record if session is not None else None)
        except RequestError:
            raise
        except ConflictError:
            raise Overloaded(
                "Documents read from or written to by this mutation changed while it was being run, "
                "and it could not be committed after several retries. Try again."
            ) from None
        except Exception as exc:  # noqa: BLE001
            return self._failure(exc, capture[0].lines if capture else [])
        return Outcome(True, value, log_lines=capture[0].lines if capture else [], ts=commit_ts)

    async def _run_action(self, function: ConvexFunction, args: dict, identity: Identity, depth: int) -> Outcome:
        with LogCapture() as logs:
            try:
                if self.pool is None:
                    value = await function.handler(ActionCtx(self, identity, logs.lines, depth + 1), args)
                else:
                    host = ActionSyscalls(self, identity, logs.lines, depth + 1)
                    try:
                        value = await self._in_runner(function, args, host, logs.lines, self.action_timeout_s)
                    except RunnerDied:
                        raise FunctionError("Uncaught Error: the action's runner process stopped while running it") from None
                value = self._check_returns(function, value)
            except RequestError:
                raise
            except Exception as exc:  # noqa: BLE001
                return self._failure(exc, logs.lines)
        return Outcome(True, value, log_lines=logs.lines)

    @property
    def code_version(self) -> tuple[int, int]:
        """Changes whenever the served code does (a push, a reload): cached answers of older code are stale."""
        return (self.pushed.version if self.pushed is not None else 0, self.code_generation)

    async def refresh_code(self) -> None:
        """Serve the latest push (cheap when no commit wrote one since the last call)."""
        if self.pushed is not None:
            await self.pushed.refresh()
            self.registry.pushed = self.pushed.functions

    async def run_scheduled(self, function: ConvexFunction, args: list[Any], around: Around | None) -> Outcome:
        """A scheduled job's function (``runtime/scheduler.py``), with no user identity. For a
        mutation, ``around(tx, run)`` wraps the run in its transaction: the scheduler reads and marks
        the job there, so the job and the mutation's writes commit together."""
        try:
            call_args = self._validate_args(function, parse_path(function.path or ""), args)
        except FunctionError as error:
            return Outcome(False, error_message=error.message + "\n")
        async with self.slots[function.kind]:
            if function.js is not None and self.pool is None:
                return await self._execute(function, call_args, SCHEDULED, 0)
            if function.kind == FunctionKind.MUTATION:
                return await self._run_mutation(function, call_args, SCHEDULED, None, around)
            return await self._run_action(function, call_args, SCHEDULED, 0)

    async def run_nested(
        self, target: Any, args: Any, kind: FunctionKind, identity: Identity, log_lines: list[str], depth: int
    ) -> Any:
        """``ctx.run_query`` and friends: run, fold logs into the caller's, return or raise."""
        if depth > MAX_CALL_DEPTH:
            raise FunctionError(f"Nested function calls are too deep (maximum depth {MAX_CALL_DEPTH}).")
        if isinstance(target, ConvexFunction):
            if target.path is None:
                raise FunctionError("That function is not registered: it must be exported from a module in the functions folder.")
            path = parse_path(target.path)
        else:
            path = parse_path(target)
        function = self.resolve(path, Identity(admin=True, user=identity.user), kind, NotFoundStyle.ANY)
        call_args = self._validate_args(function, path, [normalize({} if args is None else args)])
        if function.kind == FunctionKind.QUERY:
            await self.db.include_acknowledged()
        outcome = await self._execute(function, call_args, identity, depth)
        log_lines.extend(outcome.log_lines)
        if outcome.success:
            return outcome.value
        if outcome.has_error_data:
            raise ConvexError(outcome.error_data)
        raise FunctionError(outcome.error_message.rstrip("\n"))
