"""The JavaScript guest's side of a runner: pushed code in V8, answering ``invoke`` and ``analyze``.

A runner (``runtime/runner.py``) hands calls of pushed functions here. Each push
is loaded once per runner into one V8 context (its sources fetched from the
host with the ``convexpy/pushedModules`` syscall), the call's syscalls go over
the same pipe the Python guest uses, and a failed call's stack frames are
mapped to the user's TypeScript through the push's source maps. V8 is imported
only here, after the fork: it starts threads, which a fork would lose.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import orjson

from ... import errors
from ..channel import BlockingChannel
from .modules import to_script
from .sourcemap import SourceMap, remap

TIMED_OUT_EXIT = 4
"""The exit status of a runner that ran out of user time (the host replaces it)."""


class CpuWatchdog:
    """The user-time limit of pushed JavaScript: a thread watching the runner's main thread's CPU time.

    ``UserClock``'s signal cannot interrupt V8 (Python runs signal handlers only between its own
    bytecodes), but V8 releases the interpreter while it runs, so a thread can watch the CPU
    clock of the main thread. Past the limit it sends the timeout result itself and ends the
    process; the host replaces the runner.
    """

    POLL_S = 0.02

    def __init__(self, channel: BlockingChannel):
        self._channel = channel
        self._clock = time.pthread_getcpuclockid(threading.main_thread().ident)
        self._deadline: float | None = None
        self._armed = threading.Condition()
        threading.Thread(target=self._watch, name="cpu-watchdog", daemon=True).start()

    def arm(self, limit_s: float) -> None:
        with self._armed:
            self._deadline = time.clock_gettime(self._clock) + limit_s
            self._armed.notify()

    def disarm(self) -> None:
        with self._armed:
            self._deadline = None

    def _watch(self) -> None:
        while True:
            with self._armed:
                while self._deadline is None:
                    self._armed.wait()
                deadline = self._deadline
            left = deadline - time.clock_gettime(self._clock)
            if left > 0:
                time.sleep(min(self.POLL_S, left))
                continue
            with self._channel.send_lock:
                if self._deadline is not None:  # not disarmed meanwhile: the call is still running
                    self._channel.send({"type": "result", "ok": False, "timeout": True, "logLines": []})
                    os._exit(TIMED_OUT_EXIT)


class JsGuest:
    """The pushed JavaScript this runner has loaded: one V8 context per push, made on first use."""

    def __init__(self, transport: Any, channel: BlockingChannel):
        self._transport = transport
        self._isolates: dict[str, Any] = {}
        self._channel = channel
        self._watchdog: CpuWatchdog | None = None
        self._maps: dict[str, Any] = {}
        self._preloaded: set[tuple[str, str]] = set()

    def isolate(self, push: str) -> Any:
        isolate = self._isolates.get(push)
        if isolate is None:
            from .isolate import Isolate  # V8 starts threads: only in a runner, after the fork

            sources = orjson.loads(self._transport.call_sync("convexpy/pushedModules", orjson.dumps({"push": push}).decode()))
            scripts = {path: to_script(path, source) for path, (source, _) in sources.items()}
            for old in self._isolates.values():
                old.close()
            self._isolates = {push: Isolate(scripts, self._transport.call_sync)}
            self._maps = source_maps(sources)
            isolate = self._isolates[push]
        return isolate

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        js = request["js"]
        args_json = orjson.dumps([request["args"]]).decode()
        fresh = js["push"] not in self._isolates
        try:
            isolate = self.isolate(js["push"])
        except errors.ModuleLoadError as error:  # the push's code, not the runner, is broken: a function error
            return {"type": "result", "ok": False, "message": f"Uncaught Error: {error}\n", "logLines": []}
        if fresh or (js["push"], js["module"]) not in self._preloaded:
            # Loading is not the call's time: the module is evaluated before the CPU clock starts, and
            # the host's wall-clock backstop starts again after rewriting, compiling and evaluating.
            isolate.preload(js["module"])
            self._preloaded.add((js["push"], js["module"]))
            self._channel.send({"type": "loaded"})
        if self._watchdog is None:
            self._watchdog = CpuWatchdog(self._channel)
        self._watchdog.arm(request["userTimeS"])
        try:
            outcome = isolate.invoke(js["module"], js["name"], request["kind"], args_json, js["seed"], js["now"])
        finally:
            self._watchdog.disarm()
        result: dict[str, Any] = {"type": "result", "ok": outcome.ok, "logLines": outcome.log_lines or []}
        if outcome.ok:
            result["value"] = outcome.value
        else:
            result["message"] = remap(outcome.message, self._maps)
            if outcome.has_error_data:
                result["errorData"] = outcome.error_data
        return result


def source_maps(sources: dict[str, list[str | None]]) -> dict[str, SourceMap]:
    return {path: SourceMap(source_map) for path, (_, source_map) in sources.items() if source_map}


def analyze(request: dict[str, Any]) -> dict[str, Any]:
    """A push's modules as the reference backend analyzes them (no syscalls allowed meanwhile)."""
    from .isolate import Isolate

    env = request.get("env") or {}

    def no_syscalls(op: str, args_json: str) -> str:
        if op == "environmentVariables/get":  # readable at import time, as in Convex
            return orjson.dumps(env.get(orjson.loads(args_json).get("name"))).decode()
        raise errors.SyscallError(f"{op} is not allowed while modules are imported (during analysis)")

    maps = source_maps(request["modules"])
    try:
        scripts = {path: to_script(path, source) for path, (source, _) in request["modules"].items()}
        isolate = Isolate(scripts, no_syscalls)
        try:
            functions = {path: isolate.analyze(path) for path in request["functionModules"]}
            schema = isolate.export_default(request["schema"]) if request.get("schema") else None
            configs = {path: isolate.analyze_config(path) for path in request.get("configModules", [])}
        finally:
            isolate.close()
    except errors.ModuleLoadError as error:
        return {"type": "result", "ok": False, "message": remap(str(error), maps)}
    return {"type": "result", "ok": True, "value": {"functions": functions, "schema": schema, "configs": configs}}


