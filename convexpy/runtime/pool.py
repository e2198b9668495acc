"""Runner processes: where user code runs, out of the server's event loop.

A *zygote* process (``runtime/runner.py``) imports the functions folder once;
each runner is forked from it, so a new one costs milliseconds and shares the
zygote's memory. Each runner runs one function at a time, as each of Convex's
isolates does: a function waiting for a syscall holds its runner, and a
function that spins holds only its own. The pool keeps ``--runners`` of them
warm, forks more when every one is busy (the concurrency limits in the
executor bound how many), and lets the extra ones go once they have been idle
for ``IDLE_S``.

To run a function the host takes an idle runner, sends it the call, and answers
its syscalls against the request's transaction (``runtime/syscalls.py``) until
the result comes back. User time is the runner's CPU time, counted by the
runner itself (``UserClock`` in ``runtime/runner.py``); past the limit (1 s for
queries and mutations, a setting for actions) the function fails with the
timeout error and its runner is replaced. Code that blocks without spending CPU
is caught by a wall-clock backstop here, which kills the runner. A runner that dies (a crash, its memory limit, a kill) is dropped too: a query or
mutation on it is run again on another one (nothing of a mutation is committed
until the host commits it); an action fails, since it may have had effects.

Why processes: Python user code holds the interpreter while it runs, so a
function that spins would stall every request of the server; a process can be
timed, limited and killed from outside, which a thread cannot.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import struct
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

from ..errors import ConvexError, FunctionError
from ..values import json as cjson
from .channel import ChannelClosed, HostChannel

logger = logging.getLogger(__name__)
RERUNS = 2
"""Times a query is run again after its runner died under it (a mutation is retried as a conflict)."""
IDLE_S = 30.0
"""Runners beyond the warm ones are stopped after this long without a call."""
START_TIMEOUT_S = 120.0
"""Longest the zygote may take to import the functions folder."""
BACKSTOP_FACTOR = 4
BACKSTOP_SLACK_S = 1.0
"""The wall-clock backstop: a call that goes ``limit * BACKSTOP_FACTOR + BACKSTOP_SLACK_S`` without a
syscall is killed, for code that blocks without spending CPU (the runner counts CPU time itself)."""


class RunnerDied(Exception):
    """The runner process exited (or was killed) while running a function."""


class RunnerStartFailed(RuntimeError):
    """The zygote could not start (the functions folder failed to import in it)."""


class UserTimeout(FunctionError):
    def __init__(self, limit_s: float):
        super().__init__(f"Function execution timed out (maximum duration: {limit_s:g}s)")


@dataclass
class RunnerResult:
    ok: bool
    value: Any = None
    message: str = ""
    error_data: Any = None
    has_error_data: bool = False
    log_lines: list[str] | None = None


SyscallAnswer = Callable[[str, str], Awaitable[str]]
"""``(op, args JSON) -> result JSON``: the host's side of one function's syscalls."""
ANALYZE_TIMEOUT_S = 30.0
"""Longest a push's analysis may run (its modules are imported, as the reference backend does)."""


async def _no_syscalls(op: str, args_json: str) -> str:
    raise FunctionError(f"{op} is not allowed while a push is analyzed")


class Runner:
    """One runner process and its socket."""

    def __init__(self, pid: int, channel: HostChannel, *, wall_clock: bool = False):
        self.pid = pid
        self.channel = channel
        self.idle_since = time.monotonic()
        self.wall_clock = wall_clock
        """The limit is wall-clock time outside syscalls, kept here: for runners that do not count
        their own CPU time (Node.js runners, whose limit Convex gives in wall time)."""

    @property
    def alive(self) -> bool:
        return not self.channel.closed.done()

    async def run(self, request: dict[str, Any], answer: SyscallAnswer, user_time_s: float) -> RunnerResult:
        """Send one call and serve its syscalls until the result; :class:`UserTimeout` past the limit."""
        channel = self.channel
        try:
            channel.send(request)
        except ChannelClosed:
            raise RunnerDied() from None
        budget = user_time_s if self.wall_clock else user_time_s * BACKSTOP_FACTOR + BACKSTOP_SLACK_S
        wall_left = budget
        while True:
            started = time.monotonic()
            try:
                message = await channel.receive(max(wall_left, 0.001))
            except TimeoutError:
                logger.warning("runner %d gave no answer for %.1f s of wall time outside syscalls (a call limited to "
                               "%g s): killed", self.pid, budget, user_time_s)
                self.kill()
                raise UserTimeout(user_time_s) from None
            except ChannelClosed:
                raise RunnerDied() from None
            wall_left -= time.monotonic() - started  # the time spent in syscalls below is not counted
            if message.get("type") == "loaded":
                wall_left = budget  # the runner loaded the code first (a push's modules): not the call's time
                continue
            if message.get("type") == "result":
                if message.get("timeout"):
                    self.kill()  # it exits after saying so; its state is not to be trusted
                    raise UserTimeout(user_time_s)
                if message.get("memory"):
                    await channel.closed  # it exits right after saying so
                return RunnerResult(
                    bool(message["ok"]), message.get("value"), message.get("message", ""), message.get("errorData"),
                    "errorData" in message, message.get("logLines") or [],
                )
            try:
                result = await answer(message["op"], message["args"])
                reply: dict[str, Any] = {"ok": True, "result": result}
            except Exception as exc:  # noqa: BLE001 - the guest re-raises it as the same error
                reply = _error_reply(exc)
            if not message.get("oneWay"):
                try:
                    channel.send(reply)
                except ChannelClosed:
                    raise RunnerDied() from None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.channel.close()


class Zygote:
    """The process runners are forked from: ``fork()`` hands it one end of a new socket pair."""

    def __init__(self, functions: Path, memory_mb: int):
        self.functions = functions
        self.memory_mb = memory_mb
        self.process: asyncio.subprocess.Process | None = None
        self._control: socket.socket | None = None
        self._lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "convexpy.runtime.runner", str(self.functions), str(self.memory_mb), str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self._control = ours
        try:
            ready = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(ours, 1), START_TIMEOUT_S)
        except asyncio.TimeoutError:
            ready = b""
        if ready != b"R":
            await self.stop()
            raise RunnerStartFailed("the runner zygote did not start (see the error above)")

    async def fork(self) -> Runner:
        async with self._lock:
            if not self.alive:
                await self.stop()
                await self.start()
            assert self._control is not None
            ours, theirs = socket.socketpair()
            try:
                socket.send_fds(self._control, [b"F"], [theirs.fileno()])
                reply = await self._receive_exactly(4)
            finally:
                theirs.close()
        (pid,) = struct.unpack(">I", reply)
        return Runner(pid, await HostChannel.connect(ours))

    async def _receive_exactly(self, size: int) -> bytes:
        assert self._control is not None
        data = b""
        while len(data) < size:
            chunk = await asyncio.get_running_loop().sock_recv(self._control, size - len(data))
            if not chunk:
                raise RunnerStartFailed("the runner zygote exited")
            data += chunk
        return data

    async def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def restart(self) -> None:
        """A new zygote importing the folder as it is now; a fork waits for it (the same lock)."""
        async with self._lock:
            await self.stop()
            await self.start()


def _error_reply(exc: BaseException) -> dict[str, Any]:
    """A syscall's failure as the runner re-raises it (same class, same text, same data)."""
    if isinstance(exc, ConvexError):
        return {"ok": False, "errorData": cjson.to_json(exc.data), "message": str(exc), "convexMessage": exc.message}
    message = getattr(exc, "message", None) or str(exc)
    return {"ok": False, "kind": type(exc).__name__, "message": message}


class Spawner(Protocol):
    """Where a pool's runners come from: the zygote, or ``node`` for "use node" actions (``js/node.py``)."""

    async def start(self) -> None: ...

    async def fork(self) -> Runner: ...

    async def stop(self) -> None: ...

    async def restart(self) -> None: ...


class RunnerPool:
    """Runners for one functions folder: ``warm`` kept, more forked on demand, dead ones dropped."""

    def __init__(self, functions: Path, warm: int, *, memory_mb: int = 0, idle_s: float = IDLE_S, spawner: Spawner | None = None):
        self.functions = Path(functions).resolve()
        self.warm = warm
        self.idle_s = idle_s
        self._spawner: Spawner = spawner or Zygote(self.functions, memory_mb)
        self._idle: deque[Runner] = deque()
        """Most recently used last: calls take from the end, so the runners at the front age out."""
        self._all: set[Runner] = set()

    @property
    def size(self) -> int:
        """Runner processes alive now (busy and idle)."""
        return len(self._all)

    async def open(self) -> None:
        await self._spawner.start()
        for _ in range(self.warm):
            self._idle.append(await self._fork())

    async def _fork(self) -> Runner:
        runner = await self._spawner.fork()
        self._all.add(runner)
        return runner

    async def call(
        self, kind: str, path: str, args_json: Any, answer: SyscallAnswer, user_time_s: float, js: dict[str, Any] | None = None
    ) -> RunnerResult:
        """Run ``path`` on an idle runner (``js``: a pushed JavaScript function's module, export, push,
        seed and clock). :class:`RunnerDied` if its runner died under it (the caller decides whether
        running it again is safe), :class:`UserTimeout` past the limit."""
        request = {"type": "invoke", "kind": kind, "path": path, "args": args_json, "userTimeS": user_time_s, "js": js}
        return await self._run(request, answer, user_time_s)

    async def analyze(
        self, modules: dict[str, Any], function_modules: list[str], schema: str | None, config_modules: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> RunnerResult:
        """A push's analysis, in a runner (V8 never runs in the server process): ``value`` holds
        ``functions`` (per module), ``schema`` and ``configs`` (http.js, crons.js, auth.config.js).
        ``env``: the environment variables modules may read as they load."""
        request = {"type": "analyze", "modules": modules, "functionModules": function_modules, "schema": schema,
                   "configModules": config_modules or [], "env": env or {}}
        return await self._run(request, _no_syscalls, ANALYZE_TIMEOUT_S)

    async def _run(self, request: dict[str, Any], answer: SyscallAnswer, user_time_s: float) -> RunnerResult:
        runner = await self._take()
        try:
            result = await runner.run(request, answer, user_time_s)
        except BaseException:
            self._drop(runner)  # timed out, died, or the caller went away mid-call: its state is unknown
            raise
        self._give_back(runner)
        return result

    async def _take(self) -> Runner:
        while self._idle:
            runner = self._idle.pop()
            if runner.alive:
                return runner
            self._drop(runner)
        return await self._fork()

    def _give_back(self, runner: Runner) -> None:
        if not runner.alive:
            self._drop(runner)
            return
        now = time.monotonic()
        runner.idle_since = now
        self._idle.append(runner)
        while len(self._all) > self.warm and self._idle[0].idle_since < now - self.idle_s:
            self._drop(self._idle.popleft())

    def _drop(self, runner: Runner) -> None:
        runner.kill()
        self._all.discard(runner)

    async def stop(self) -> None:
        for runner in list(self._all):
            self._drop(runner)
        self._idle.clear()
        await self._spawner.stop()

    async def reload(self) -> None:
        """Serve the functions folder as it is now (``convexpy dev``): a new zygote imports it, and
        every runner of the old one goes (a call running on one fails as a runner death: queries
        and mutations run again on a new runner)."""
        for runner in list(self._all):
            self._drop(runner)
        self._idle.clear()
        await self._spawner.restart()
        for _ in range(self.warm):
            self._idle.append(await self._fork())
