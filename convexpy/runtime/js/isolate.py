"""One V8 context running a push's JavaScript: the second guest of the syscall protocol.

The binding is STPyV8 (V8 with synchronous calls between JavaScript and
Python), picked over mini-racer by measurement: Convex's ``Convex.syscall`` is
synchronous, and a synchronous call costs about 4 µs here against about 1 ms
for mini-racer's only JavaScript-to-Python call, an asynchronous one. Its one
defect, characters outside the Basic Multilingual Plane mangled when strings
cross, is contained in one place: every string crossing is ASCII (JSON with
escapes), and module sources are escaped when they are rewritten.

:class:`Isolate` loads ``runtime.js`` and the rewritten modules, and answers
the bundled library's syscalls with a ``syscall(op, args JSON) -> result JSON``
callable: in a runner process that is the same pipe to the host the Python
guest uses, so the host runs both languages' database calls the same way.
"""

from __future__ import annotations

import base64
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable

import orjson

from ...errors import ConvexError, ModuleLoadError
from ...values import json as cjson
from ...values.model import normalize
from .ascii import escape_astral
from .modules import ModuleScript
from .subtle import subtle

_SHARED = resources.files(__package__).joinpath("shared.js").read_text()
_RUNTIME = resources.files(__package__).joinpath("runtime.js").read_text()

Syscall = Callable[[str, str], str]
"""``(op, args JSON) -> result JSON``; raises to fail the syscall (the guest sees an Error)."""


@dataclass
class Invocation:
    """What a call came to: a value (Convex JSON) or an error message, and its log lines."""

    ok: bool
    value: Any = None
    message: str = ""
    error_data: Any = None
    has_error_data: bool = False
    log_lines: list[str] | None = None


FETCH_TIMEOUT_S = 60.0
MAX_FETCH_BYTES = 64 * 1024 * 1024


def fetch(request: dict[str, Any]) -> dict[str, Any]:
    """One HTTP request of an action's ``fetch()``, made with the standard library (the runner runs
    one call at a time, so blocking is fine); a network failure is ``{"error"}``, as fetch rejects."""
    body = None if request.get("body") is None else base64.b64decode(request["body"])
    outgoing = urllib.request.Request(request["url"], data=body, method=request.get("method") or "GET",
                                      headers={key: value for key, value in request.get("headers") or []})
    try:
        with urllib.request.urlopen(outgoing, timeout=FETCH_TIMEOUT_S) as response:
            return _fetched(response, response.read(MAX_FETCH_BYTES))
    except urllib.error.HTTPError as error:  # an answer, if not a 2xx one: fetch resolves with it
        return _fetched(error, error.read(MAX_FETCH_BYTES))
    except (urllib.error.URLError, OSError, ValueError) as error:
        return {"error": str(getattr(error, "reason", error))}


def _fetched(response: Any, body: bytes) -> dict[str, Any]:
    return {"status": response.status, "statusText": getattr(response, "reason", "") or "", "url": response.geturl(),
            "headers": [[key, value] for key, value in response.headers.items()], "body": base64.b64encode(body).decode()}


class _Host:
    """The object ``runtime.js`` calls: one method, never raising into JavaScript."""

    def __init__(self, syscall: Syscall):
        self._syscall = syscall

    def syscall(self, op: str, args_json: str) -> str:
        try:
            if op == "convexpy/randomBytes":  # an action's crypto.getRandomValues: answered here, no round trip
                count = min(int(orjson.loads(args_json)["n"]), 65536)
                return "1" + orjson.dumps(base64.b64encode(os.urandom(count)).decode()).decode()
            if op == "convexpy/fetch":  # an action's fetch(): made from this process
                return "1" + orjson.dumps(fetch(orjson.loads(args_json))).decode()
            if op == "convexpy/subtle":  # crypto.subtle: computed here, the key material travels with it
                return "1" + orjson.dumps(subtle(orjson.loads(args_json))).decode()
            return "1" + escape_astral(self._syscall(op, args_json))
        except ConvexError as exc:  # from a function this action ran: the library rethrows it as a ConvexError
            data = cjson.to_json(normalize(exc.data))
            message = exc.message or (exc.data if isinstance(exc.data, str) else orjson.dumps(data).decode())
            return "0" + escape_astral(orjson.dumps({"message": message, "data": data}).decode())
        except Exception as exc:  # noqa: BLE001 - every failure becomes the guest's Error
            return "0" + escape_astral(orjson.dumps({"message": getattr(exc, "message", None) or str(exc)}).decode())


class Isolate:
    """A V8 context with the runtime and a push's modules registered (each runs when first imported)."""

    def __init__(self, modules: dict[str, ModuleScript], syscall: Syscall):
        import STPyV8  # V8 starts its threads on import: only in the process that runs JavaScript

        self._v8 = STPyV8
        self._context = STPyV8.JSContext()
        self._context.enter()
        setattr(self._context.locals, "__convex_host", _Host(syscall))  # setattr: no name mangling
        self._context.eval(_SHARED, "convex:/_runtime.js")
        self._context.eval(_RUNTIME, "convex:/_runtime.js")
        self._entry = getattr(self._context.locals, "__convex")
        for path, module in modules.items():
            try:
                factory = self._context.eval(module.script, f"convex:/{path}")
            except Exception as exc:  # noqa: BLE001 - the binding raises a class per JS error kind
                raise ModuleLoadError(f"Failed to analyze {path}: {_js_message(exc)}") from None
            self._entry.register(path, factory)

    def close(self) -> None:
        self._context.leave()

    def preload(self, path: str) -> None:
        """Evaluate ``path`` and its imports now (a failure surfaces in the call that needs it)."""
        self._entry.preload(path)

    def analyze(self, path: str) -> list[dict[str, Any]]:
        """The functions ``path`` exports: name, udfType, visibility, args and returns validator JSON."""
        return self._answer(path, self._entry.analyze(path))["functions"]

    def export_default(self, path: str) -> Any:
        """``default.export()`` of ``path`` (schema.js, convex.config.js), parsed."""
        return self._answer(path, self._entry.exportDefault(path))["value"]

    def analyze_config(self, path: str) -> dict[str, Any]:
        """What ``http.js`` (``httpRoutes``), ``crons.js`` (``cronSpecs``) or ``auth.config.js``
        (``authProviders``) declares."""
        return self._answer(path, self._entry.analyzeConfig(path))["value"]

    @staticmethod
    def _answer(path: str, answer: str) -> dict[str, Any]:
        parsed = orjson.loads(answer)
        if not parsed["ok"]:
            raise ModuleLoadError(f"Failed to analyze {path}: {parsed['message']}")
        return parsed

    def invoke(self, path: str, name: str, udf_type: str, args_json: str, seed: int, now_ms: float) -> Invocation:
        """Run one function with ``args_json`` (a JSON array of Convex values, as Convex passes them)."""
        self._entry.invoke(path, name, udf_type, escape_astral(args_json), seed, now_ms)
        settled = self._entry.settled
        while settled is None:  # an action waiting for timers: sleep until the next is due, fire it
            wait_ms = self._entry.nextTimer()
            if wait_ms < 0:
                break
            time.sleep(wait_ms / 1000)
            self._entry.runTimers()
            self._context.eval("0")  # a microtask checkpoint
            settled = self._entry.settled
        if settled is None:
            return Invocation(False, message="Uncaught Error: the function returned a promise that never settled "
                                             "(it waits for something no timer or syscall will bring)\n", log_lines=[])
        outcome = orjson.loads(settled)
        if outcome["ok"]:
            return Invocation(True, orjson.loads(outcome["value"]), log_lines=outcome["logLines"])
        message = outcome["message"]
        if "data" in outcome:
            return Invocation(False, message=message + "\n", error_data=orjson.loads(outcome["data"]), has_error_data=True,
                              log_lines=outcome["logLines"])
        return Invocation(False, message=message + "\n", log_lines=outcome["logLines"])


def _js_message(exc: BaseException) -> str:
    """A JavaScript error as the binding reports it (``TypeError: x ( file @ line : col ) -> source``)."""
    text = str(exc)
    return text.split(" -> ", 1)[0].strip()
