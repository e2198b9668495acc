"""A runner process: runs the user's Python functions, one at a time, outside the server.

``python -m convexpy.runtime.runner <functions folder> [memory limit MB]``. It
imports the functions folder once, then answers ``invoke`` frames from the host
(``runtime/pool.py``) on stdin/stdout (``runtime/channel.py``). User code
reaches the database, auth and other functions only through syscalls sent back
to the host (``runtime/guest.py``); the host runs them against the request's
transaction. So a function that spins, crashes or runs out of memory here can
take down only this process, which the host replaces.

Standard output carries frames, so ``print`` is captured into log lines while a
function runs and sent to standard error otherwise.
"""

from __future__ import annotations

import asyncio
import resource
import sys
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
from .guest import GuestAuth, GuestDatabaseReader, GuestDatabaseWriter, _ask
from .loader import load_functions
from .logs import LogCapture
from .paths import parse_path

ONE_WAY = frozenset({"1.0/queryCleanup"})
"""Syscalls whose answer the guest does not need: sent without waiting for one."""


class PipeTransport:
    """Syscalls as frames to the host and back; blocking, as this process runs one function at a time."""

    def __init__(self, channel: BlockingChannel):
        self._channel = channel

    def call_sync(self, op: str, args_json: str) -> str:
        if op in ONE_WAY:
            self._channel.send({"type": "syscall", "op": op, "args": args_json, "oneWay": True})
            return "true"
        self._channel.send({"type": "syscall", "op": op, "args": args_json})
        answer = self._channel.receive()
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
        return SimpleNamespace(db=GuestDatabaseReader(transport), auth=GuestAuth(transport))
    if kind == FunctionKind.MUTATION:
        return SimpleNamespace(db=GuestDatabaseWriter(transport), auth=GuestAuth(transport))
    return GuestActionCtx(transport)


_LOOP = asyncio.new_event_loop()
"""One event loop for the runner's life (a new one per call cost more than a by_sid query)."""


def invoke(registry: Any, root: Path, transport: PipeTransport, request: dict[str, Any]) -> dict[str, Any]:
    function = registry.get(parse_path(request["path"]))
    if function is None:
        return {"type": "result", "ok": False, "message": f"Could not find function for '{request['path']}'.\n", "logLines": []}
    args = cjson.from_json(request["args"])
    with LogCapture() as logs:
        try:
            value = _LOOP.run_until_complete(function.handler(_context(function.kind, transport), args))
            return {"type": "result", "ok": True, "value": cjson.to_json(normalize(value)), "logLines": logs.lines}
        except MemoryError:
            raise
        except ConvexError as error:
            try:
                data = cjson.to_json(normalize(error.data))
            except errors.ConvexpyError:
                data = repr(error.data)
            return {"type": "result", "ok": False, "message": describe_exception(error, root), "errorData": data, "logLines": logs.lines}
        except Exception as exc:  # noqa: BLE001 - every user failure is an answer
            return {"type": "result", "ok": False, "message": describe_exception(exc, root), "logLines": logs.lines}


def _die_with_the_server() -> None:
    """Linux: be killed when the server process dies, even in the middle of a runaway function."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main() -> None:
    _die_with_the_server()
    root = Path(sys.argv[1]).resolve()
    if len(sys.argv) > 2 and int(sys.argv[2]) > 0:
        limit = int(sys.argv[2]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    channel = BlockingChannel(sys.stdin.buffer, sys.stdout.buffer)
    sys.stdout = sys.stderr  # frames own the real standard output
    registry = load_functions(root)
    transport = PipeTransport(channel)
    channel.send({"type": "ready"})
    while True:
        try:
            request = channel.receive()
        except ChannelClosed:
            return
        try:
            channel.send(invoke(registry, root, transport, request))
        except MemoryError:
            channel.send({"type": "result", "ok": False, "memory": True, "message": "Uncaught Error: the function ran out of memory\n",
                          "logLines": []})
            sys.exit(3)  # replaced by the host


if __name__ == "__main__":
    main()
