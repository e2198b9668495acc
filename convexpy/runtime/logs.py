"""Log lines: ``print()`` inside a function becomes ``"[LOG] ..."`` lines in the response.

Arguments are rendered as the Convex runtime's console renders them
(``object-inspect``): strings single-quoted, numbers without a trailing
``.0``, objects spread over indented lines. The JS client only requires the
``[LEVEL] `` prefix; matching the rest keeps logs familiar to Convex users.
"""

from __future__ import annotations

import builtins
import contextvars
from typing import Any

from ..values.display import js_scalar

MAX_LOG_LINES = 256
MAX_LINE_BYTES = 32768

_collector: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("convexpy_log_lines", default=None)


def _inspect(value: Any, indent: int = 0) -> str:
    scalar = js_scalar(value)
    if scalar is not None:
        return scalar
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (bytes, bytearray)):
        return f"ArrayBuffer {{ byteLength: {len(value)} }}"
    pad = "  " * (indent + 1)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        if all(not isinstance(item, (list, tuple, dict)) for item in value):
            return "[ " + ", ".join(_inspect(item) for item in value) + " ]"
        inner = ",\n".join(pad + _inspect(item, indent + 1) for item in value)
        return "[\n" + inner + "\n" + "  " * indent + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = ",\n".join(f"{pad}{key}: {_inspect(item, indent + 1)}" for key, item in value.items())
        return "{\n" + inner + "\n" + "  " * indent + "}"
    return str(value)


def format_line(level: str, args: tuple[Any, ...], sep: str = " ") -> str:
    text = sep.join(_inspect(arg) for arg in args)
    line = f"[{level}] {text}"
    if len(line.encode("utf-8")) > MAX_LINE_BYTES:
        line = line.encode("utf-8")[:MAX_LINE_BYTES].decode("utf-8", "ignore") + " (truncated due to length)"
    return line


def emit(level: str, *args: Any) -> None:
    """Append a log line to the running function's logs (or print it if none is running)."""
    lines = _collector.get()
    if lines is None:
        builtins.print(*args)
        return
    if len(lines) >= MAX_LOG_LINES:
        return
    if len(lines) == MAX_LOG_LINES - 1:
        lines.append(f"[ERROR] Log overflow (maximum {MAX_LOG_LINES}). Remaining log lines omitted.")
        return
    lines.append(format_line(level, args))


def log_print(*args: Any, sep: str = " ", end: str = "\n", file: Any = None, flush: bool = False) -> None:
    """Replaces ``print`` in function modules. Printing to a file still goes to the file."""
    if file is not None or _collector.get() is None:
        builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
        return
    emit("LOG", *args)


class LogCapture:
    """Collects the log lines of one function execution (nested calls get their own)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._token: contextvars.Token | None = None

    def __enter__(self) -> "LogCapture":
        self._token = _collector.set(self.lines)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None
        _collector.reset(self._token)


class console:  # noqa: N801 - mirrors the JS global users know
    """``console.log/info/warn/error/debug`` for functions, with Convex's levels."""

    @staticmethod
    def log(*args: Any) -> None:
        emit("LOG", *args)

    @staticmethod
    def info(*args: Any) -> None:
        emit("INFO", *args)

    @staticmethod
    def warn(*args: Any) -> None:
        emit("WARN", *args)

    @staticmethod
    def error(*args: Any) -> None:
        emit("ERROR", *args)

    @staticmethod
    def debug(*args: Any) -> None:
        emit("DEBUG", *args)
