"""Runner processes: run the user's Python functions, one at a time each, outside the server.

``python -m convexpy.runtime.runner <functions folder> <memory limit MB> <control fd>``
starts the *zygote*: it imports the functions folder once, then forks a runner
for every socket the host (``runtime/pool.py``) passes it on the control
socket, and answers with the runner's pid. Forking a process that has already
imported everything makes a runner cost milliseconds and share the zygote's
memory, so the pool can grow with load and shrink again.

A runner answers ``invoke`` frames on its socket (``runtime/channel.py``). User
code reaches the database, auth and other functions only through syscalls sent
back to the host (``runtime/guest.py``); the host runs them against the
request's transaction. So a function that spins, crashes or runs out of memory
here can take down only its own runner, which the host replaces.

``print`` is captured into log lines while a function runs and goes to standard
error otherwise.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import resource
import signal
import socket
import struct
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .. import errors
from ..errors import ConvexError
from ..values import json as cjson
from ..values.model import normalize
from .channel import BlockingChannel, ChannelClosed
from .executor import describe_exception
from .functions import ConvexFunction, FunctionKind
from .guest import GuestAuth, GuestDatabaseReader, GuestDatabaseWriter, GuestEnv, _ask
from .js.guest import TIMED_OUT_EXIT, JsGuest, analyze
from .loader import load_functions
from .logs import LogCapture
from .paths import parse_path
from .scheduler_client import SchedulerClient

NICENESS = 10
"""Runners yield the CPU to the server: a function burning CPU slows other functions, not the
server's own work (parsing requests, cached answers, commits). Forked runners inherit it."""
ONE_WAY = frozenset({"1.0/queryCleanup"})
"""Syscalls whose answer the guest does not need: sent without waiting for one."""
REPEAT_S = 0.1
"""After the limit, the clock fires again this often (CPU time): user code that catches
:class:`OutOfUserTime` with a bare ``except`` is interrupted again."""


class OutOfUserTime(BaseException):
    """Raised into user code when its CPU time is up: a BaseException, so ``except Exception``
    in user code does not swallow it."""


class UserClock:
    """A function's user-time limit, counted in the runner's own CPU time (``ITIMER_PROF``).

    CPU time, not wall time: a runner waiting for a syscall's answer spends none, and one
    that waits for a core behind other runners on a busy machine is not charged for it, so
    load alone never times a function out. The host keeps a wall-clock backstop for code
    that blocks without spending CPU (``runtime/pool.py``). The clock never interrupts the
    runner's own frame I/O (that would corrupt the stream): an expiry there is raised when
    the syscall returns to user code.
    """

    def __init__(self) -> None:
        self._in_syscall = False
        self._expired = False
        signal.signal(signal.SIGPROF, self._on_expiry)

    def start(self, limit_s: float) -> None:
        self._expired = False
        signal.setitimer(signal.ITIMER_PROF, limit_s, REPEAT_S)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)

    @property
    def expired(self) -> bool:
        return self._expired

    def enter_syscall(self) -> None:
        self._in_syscall = True

    def leave_syscall(self) -> None:
        self._in_syscall = False
        if self._expired:
            raise OutOfUserTime()

    def _on_expiry(self, signum: int, frame: Any) -> None:
        self._expired = True
        if not self._in_syscall:
            raise OutOfUserTime()


class PipeTransport:
    """Syscalls as frames to the host and back; blocking, as this process runs one function at a time."""

    def __init__(self, channel: BlockingChannel, clock: UserClock):
        self._channel = channel
        self._clock = clock

    def call_sync(self, op: str, args_json: str) -> str:
        self._clock.enter_syscall()
        try:
            if op in ONE_WAY:
                self._channel.send({"type": "syscall", "op": op, "args": args_json, "oneWay": True})
                return "true"
            self._channel.send({"type": "syscall", "op": op, "args": args_json})
            answer = self._channel.receive()
        finally:
            self._clock.leave_syscall()
        if answer.get("ok"):
            return answer["result"]
        raise _error_from(answer)

    async def call(self, op: str, args_json: str) -> str:
        return self.call_sync(op, args_json)


def _error_from(answer: dict[str, Any]) -> BaseException:
    """The host's error, raised here as the same class (only classes of ``convexpy.errors``)."""
    if "errorData" in answer:
        error = ConvexError(cjson.from_json(answer["errorData"]))
        if answer.get("convexMessage") is not None:
            error.message = answer["convexMessage"]  # a system ConvexError (InvalidCursor) keeps its text
        return error
    cls = getattr(errors, str(answer.get("kind")), None)
    if isinstance(cls, type) and issubclass(cls, errors.InvalidValueError):
        return cls(answer.get("message", ""))
    return errors.FunctionError(answer.get("message", "the syscall failed"))


class GuestActionCtx:
    """``ctx`` of an action: other functions and auth, through syscalls."""

    def __init__(self, transport: PipeTransport):
        self._transport = transport
        self.auth = GuestAuth(transport)
        self.env = GuestEnv(transport)
        self.scheduler = SchedulerClient(lambda op, args: _ask(transport, op, args), in_action=True)

    async def _run(self, kind: str, function: Any, args: dict[str, Any] | None) -> Any:
        name = function.path if isinstance(function, ConvexFunction) else function
        if not isinstance(name, str):
            raise errors.FunctionError("That function is not registered: it must be exported from a module in the functions folder.")
        result = await _ask(self._transport, f"1.0/actions/{kind}", {"name": name, "args": cjson.to_json(normalize(args or {}))})
        return cjson.from_json(result)

    async def run_query(self, function: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._run("query", function, args)

    async def run_mutation(self, function: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._run("mutation", function, args)

    async def run_action(self, function: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._run("action", function, args)

    runQuery, runMutation, runAction = run_query, run_mutation, run_action


def _context(kind: FunctionKind, transport: PipeTransport) -> Any:
    if kind == FunctionKind.QUERY:
        return SimpleNamespace(db=GuestDatabaseReader(transport), auth=GuestAuth(transport), env=GuestEnv(transport))
    if kind == FunctionKind.MUTATION:
        return SimpleNamespace(db=GuestDatabaseWriter(transport), auth=GuestAuth(transport), env=GuestEnv(transport),
                               scheduler=SchedulerClient(lambda op, args: _ask(transport, op, args), in_action=False))
    return GuestActionCtx(transport)


async def invoke(
    registry: Any, root: Path, transport: PipeTransport, clock: UserClock, request: dict[str, Any], js: JsGuest | None = None
) -> dict[str, Any]:
    if request.get("js") is not None and js is not None:
        return js.invoke(request)  # its CPU time is watched by CpuWatchdog: UserClock's signal cannot stop V8
    function = registry.get(parse_path(request["path"]))
    if function is None:
        return {"type": "result", "ok": False, "message": f"Could not find function for '{request['path']}'.\n", "logLines": []}
    args = cjson.from_json(request["args"])
    with LogCapture() as logs:
        try:
            clock.start(request["userTimeS"])
            try:
                value = await function.handler(_context(function.kind, transport), args)
            finally:
                clock.stop()
            if clock.expired:
                raise OutOfUserTime()  # the user's code caught it, and went on
            return {"type": "result", "ok": True, "value": cjson.to_json(normalize(value)), "logLines": logs.lines}
        except MemoryError:
            raise
        except OutOfUserTime:
            return {"type": "result", "ok": False, "timeout": True, "logLines": logs.lines}
        except ConvexError as error:
            try:
                data = cjson.to_json(normalize(error.data))
            except errors.ConvexpyError:
                data = repr(error.data)
            return {"type": "result", "ok": False, "message": describe_exception(error, root), "errorData": data, "logLines": logs.lines}
        except Exception as exc:  # noqa: BLE001 - every user failure is an answer
            return {"type": "result", "ok": False, "message": describe_exception(exc, root), "logLines": logs.lines}


def _die_with_the_server() -> None:
    """Linux: be killed when the parent dies (the server for the zygote, the zygote for a runner),
    even in the middle of a runaway function. A fork clears it, so each process sets its own."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def serve_runner(registry: Any, root: Path, sock: socket.socket, memory_mb: int) -> None:
    """A forked runner: answer calls on ``sock`` until the host closes it."""
    _die_with_the_server()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # One task for the runner's life, awaiting each handler inline: a task and a loop start per
    # call cost more than a by_sid query. Syscalls block this task, as the runner does nothing else.
    asyncio.run(_serve(registry, root, BlockingChannel(sock)))


async def _serve(registry: Any, root: Path, channel: BlockingChannel) -> None:
    clock = UserClock()
    transport = PipeTransport(channel, clock)
    js = JsGuest(transport, channel)
    while True:
        try:
            request = channel.receive()
        except ChannelClosed:
            return
        try:
            if request.get("type") == "analyze":
                channel.send(analyze(request))
                continue
            result = await invoke(registry, root, transport, clock, request, js)
            channel.send(result)
            if result.get("timeout"):
                os._exit(TIMED_OUT_EXIT)  # the interrupted code may have left anything half done
        except MemoryError:
            channel.send({"type": "result", "ok": False, "memory": True, "message": "Uncaught Error: the function ran out of memory\n",
                          "logLines": []})
            os._exit(3)  # replaced by the host


def main() -> None:
    _die_with_the_server()
    os.nice(NICENESS)
    root = Path(sys.argv[1]).resolve()
    memory_mb = int(sys.argv[2])
    control = socket.socket(fileno=int(sys.argv[3]))
    sys.stdout = sys.stderr  # standard output stays the server's
    registry = load_functions(root)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # runners that exit are reaped by the kernel
    control.sendall(b"R")
    while True:
        message, fds, _, _ = socket.recv_fds(control, 16, 1)
        if not message:
            return  # the host went away
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                serve_runner(registry, root, socket.socket(fileno=fds[0]), memory_mb)
            except BaseException:  # noqa: BLE001 - a runner's own failure: say why, then go
                traceback.print_exc()
            os._exit(0)
        for fd in fds:
            os.close(fd)
        control.sendall(struct.pack(">I", pid))


if __name__ == "__main__":
    main()
