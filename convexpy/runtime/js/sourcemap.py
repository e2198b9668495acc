"""Stack frames of pushed JavaScript, mapped back to the user's TypeScript through the push's source maps.

V8 reports positions in the bundled modules (``convex:/yellowpages.js:21:20``);
the CLI sends each module's source map (version 3, esbuild's), whose sources
are relative to the bundle (``../convex/yellowpages.ts``), which is how the
reference backend prints frames. The module rewrite keeps line numbers, so a
position maps exactly by line; columns on a line whose imports were rewritten
may be off by the rewrite's length.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import orjson

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_FRAME = re.compile(r"convex:/([^\s():]+\.js):(\d+):(\d+)")
_LIBRARY = ("node_modules/", "/_generated/")
"""Sources whose frames are not the user's code: left out, as the reference backend leaves them."""


def _vlq(segment: str) -> list[int]:
    values, value, shift = [], 0, 0
    for char in segment:
        digit = _B64[char]
        value |= (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        value, shift = 0, 0
    return values


class SourceMap:
    """One module's map; decoded on first use (most modules never throw)."""

    def __init__(self, text: str):
        self._text = text
        self._lines: list[tuple[list[int], list[tuple[int, int, int]]]] | None = None
        self._sources: list[str] = []

    def _decode(self) -> None:
        data: dict[str, Any] = orjson.loads(self._text)
        self._sources = list(data.get("sources") or [])
        source = line = column = 0
        lines = []
        for encoded in str(data.get("mappings", "")).split(";"):
            generated = 0
            columns: list[int] = []
            targets: list[tuple[int, int, int]] = []
            for segment in encoded.split(","):
                if not segment:
                    continue
                fields = _vlq(segment)
                generated += fields[0]
                if len(fields) >= 4:
                    source, line, column = source + fields[1], line + fields[2], column + fields[3]
                    columns.append(generated)
                    targets.append((source, line, column))
            lines.append((columns, targets))
        self._lines = lines

    def original(self, line: int, column: int) -> tuple[str, int, int] | None:
        """The source, line and column (1-based) of a generated position (1-based), if mapped."""
        if self._lines is None:
            self._decode()
        assert self._lines is not None
        if not 0 < line <= len(self._lines):
            return None
        columns, targets = self._lines[line - 1]
        at = bisect.bisect_right(columns, column - 1) - 1
        if at < 0:
            return None
        source, original_line, original_column = targets[at]
        if not 0 <= source < len(self._sources):
            return None
        return self._sources[source], original_line + 1, original_column + 1


def remap(message: str, maps: dict[str, SourceMap]) -> str:
    """``message`` with its ``convex:/module.js:line:col`` frames as the user's source positions;
    frames in library code are dropped."""
    if "convex:/" not in message:
        return message
    kept = []
    for line in message.split("\n"):
        match = _FRAME.search(line)
        if match is None:
            kept.append(line)
            continue
        source_map = maps.get(match.group(1))
        found = source_map.original(int(match.group(2)), int(match.group(3))) if source_map is not None else None
        if found is None:
            kept.append(line)
            continue
        source, original_line, original_column = found
        if any(part in source for part in _LIBRARY):
            continue
        kept.append(line[: match.start()] + f"{source}:{original_line}:{original_column}" + line[match.end():])
    return "\n".join(kept)
