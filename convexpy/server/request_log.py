"""One log line per request: every request at debug, every failed one at info with its code.

Bad input is common and must not flood the log: a failed request is one
bounded line. A traceback is logged only for an unexpected server error, and
at most once a minute for the same place in the code; repeats are one line.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("convexpy.requests")
_errors = logging.getLogger("convexpy.server")
TRACEBACK_EVERY_S = 60.0
_MAX_PATH = 200


class RequestLog:
    """ASGI middleware logging each HTTP request's method, path, status, error code and time."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        code = None

        async def observe(message: Message) -> None:
            nonlocal status, code
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status >= 400 and code is None and message["type"] == "http.response.body":
                code = _error_code(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            if status >= 400 or logger.isEnabledFor(logging.DEBUG):
                elapsed_ms = (time.perf_counter() - started) * 1000
                path = scope.get("path", "")[:_MAX_PATH]
                level = logging.INFO if status >= 400 else logging.DEBUG
                logger.log(level, "%s %s %d%s %.1f ms", scope.get("method"), path, status, f" {code}" if code else "", elapsed_ms)


def _error_code(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    return code[:100] if isinstance(code, str) else None


_last_traceback: dict[tuple[str, str, int], float] = {}


def log_unexpected(what: str, exc: BaseException) -> None:
    """Log an unexpected exception: with its traceback the first time a minute for one place, else one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    place = (type(exc).__name__, last.filename if last else "", last.lineno or 0 if last else 0)
    now = time.monotonic()
    if now - _last_traceback.get(place, -TRACEBACK_EVERY_S) >= TRACEBACK_EVERY_S:
        if len(_last_traceback) > 1000:
            _last_traceback.clear()
        _last_traceback[place] = now
        _errors.error("%s: %s", what, _one_line(exc), exc_info=exc)
    else:
        _errors.error("%s: %s (traceback logged within the last minute)", what, _one_line(exc))


def _one_line(exc: BaseException) -> str:
    text: Any = str(exc)
    return f"{type(exc).__name__}: {text[:300]}"
