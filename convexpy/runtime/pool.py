"""Runner processes: where user code runs when ``--runners N`` is set, out of the server's event loop.

The pool keeps N runner processes (``runtime/runner.py``), each running one
function at a time. To run a function the host takes an idle runner, sends it
the call, and answers its syscalls against the request's transaction
(``runtime/syscalls.py``) until the result comes back. User time is the time
the runner spends outside syscalls; past the limit (1 s for queries and
mutations, a setting for actions) the runner is killed and replaced, and the
function fails with the timeout error. A runner that dies (a crash, its memory
limit, a kill) is replaced too: a query or mutation on it is run again on
another one (nothing of a mutation is committed until the host commits it);
an action fails, since it may have had effects.

Why processes: Python user code holds the interpreter while it runs, so a
function that spins would stall every request of the server; a process can be
timed, limited and killed from outside, which a thread cannot.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from ..errors import ConvexError, FunctionError
from ..values import json as cjson
from .channel import ChannelClosed, encode, receive

logger = logging.getLogger(__name__)
RERUNS = 2
"""Times a query is run again after its runner died under it (a mutation is retried as a conflict)."""


class RunnerDied(Exception):
    """The runner process exited (or was killed) while running a function."""


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


class Runner:
    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def run(self, request: dict[str, Any], answer: SyscallAnswer, user_time_s: float) -> RunnerResult:
        """Send one call and serve its syscalls until the result; :class:`UserTimeout` past the limit."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(encode(request))
        user_left = user_time_s
        while True:
            started = time.monotonic()
            try:
                message = await asyncio.wait_for(receive(self.process.stdout), max(user_left, 0.001))
            except asyncio.TimeoutError:
                self.kill()
                raise UserTimeout(user_time_s) from None
            except ChannelClosed:
                raise RunnerDied() from None
            user_left -= time.monotonic() - started  # the time spent in syscalls below is not counted
            if message.get("type") == "result":
                if message.get("memory"):
                    await self.process.wait()
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
                self.process.stdin.write(encode(reply))

    def kill(self) -> None:
        if self.alive:
            self.process.kill()


def _error_reply(exc: BaseException) -> dict[str, Any]:
    """A syscall's failure as the runner re-raises it (same class, same text, same data)."""
    if isinstance(exc, ConvexError):
        return {"ok": False, "errorData": cjson.to_json(exc.data), "message": str(exc), "convexMessage": exc.message}
    message = getattr(exc, "message", None) or str(exc)
    return {"ok": False, "kind": type(exc).__name__, "message": message}


class RunnerPool:
    """N runner processes for one functions folder; a runner found dead is replaced when next taken."""

    def __init__(self, functions: Path, size: int, *, memory_mb: int = 0):
        self.functions = Path(functions).resolve()
        self.size = size
        self.memory_mb = memory_mb
        self._idle: asyncio.Queue[Runner] = asyncio.Queue()
        self._all: set[Runner] = set()

    async def open(self) -> None:
        for _ in range(self.size):
            await self._idle.put(await self._spawn())

    async def _spawn(self) -> Runner:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "convexpy.runtime.runner", str(self.functions), str(self.memory_mb),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        ready = await receive(process.stdout)
        if ready.get("type") != "ready":
            raise RuntimeError(f"a runner did not start: {ready!r}")
        runner = Runner(process)
        self._all.add(runner)
        return runner

    async def call(self, kind: str, path: str, args_json: Any, answer: SyscallAnswer, user_time_s: float) -> RunnerResult:
        """Run ``path`` on an idle runner. :class:`RunnerDied` if its runner died under it (already
        replaced: the caller decides whether running it again is safe), :class:`UserTimeout` past the limit."""
        runner = await self._idle.get()
        if not runner.alive:
            runner = await self._replace(runner)
        try:
            result = await runner.run({"type": "invoke", "kind": kind, "path": path, "args": args_json}, answer, user_time_s)
        except (UserTimeout, RunnerDied):
            await self._idle.put(await self._replace(runner))
            raise
        except BaseException:
            runner.kill()  # the caller went away mid-call: its runner's state is unknown
            await self._idle.put(await self._replace(runner))
            raise
        await self._idle.put(runner if runner.alive else await self._replace(runner))
        return result

    async def _replace(self, runner: Runner) -> Runner:
        runner.kill()
        self._all.discard(runner)
        try:
            await asyncio.wait_for(runner.process.wait(), 5)
        except asyncio.TimeoutError:
            pass
        return await self._spawn()

    async def stop(self, timeout_s: float = 5.0) -> None:
        for runner in list(self._all):
            runner.kill()
        for runner in list(self._all):
            try:
                await asyncio.wait_for(runner.process.wait(), timeout_s)
            except asyncio.TimeoutError:
                pass
        self._all.clear()
