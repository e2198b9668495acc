"""The index engine's cache: index range results served without a PostgreSQL round trip.

An entry is the result of one index range read, ``(index, lower, upper,
direction)`` -> rows, read at snapshot ``read_ts``. It is exactly right for
every snapshot from ``read_ts`` up to the replica's ``latest_ts`` as long as
no commit wrote a key inside ``[lower, upper)``, because then nothing in the
interval changed. Every commit this replica applies (its own and, through the
commit log, every other replica's) deletes the entries whose interval
contains a written key, synchronously, before ``latest_ts`` moves on; so an
entry that exists is valid through ``latest_ts``, and an entry read at ``T``
serves any snapshot ``>= T``.

A read that went to PostgreSQL at snapshot ``S`` is admitted only if the write
log shows no write into its interval after ``S``: otherwise a commit applied
while the read was in flight could make it stale.

Finding the entries a written key falls in must not scan the cache: point
intervals (``db.get``, by_id) are found by the key itself; prefix intervals
(``q.eq(...)`` on leading fields, the ``by_sid`` hot path) by the key's
prefixes of the lengths in use; only other ranges are checked one by one.
Entries are evicted least-recently-used beyond a byte budget.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..server.metrics import METRICS
from ..storage.postgres import IndexRow
from ..values.sortkey import successor
from .readset import Interval, ReadSet, SortedKeys

if TYPE_CHECKING:
    from .writelog import WriteLog

Key = tuple[int, bytes, "bytes | None", bool]
_ROW_OVERHEAD = 120
_ENTRY_OVERHEAD = 300


@dataclass(slots=True)
class _Entry:
    rows: list[IndexRow]
    exhausted: bool
    """True if ``rows`` is the whole interval; else its first ``len(rows)`` keys in scan order."""
    read_ts: int
    size: int


class IndexCache:
    def __init__(self, write_log: "WriteLog", budget_bytes: int):
        self.write_log = write_log
        self.budget_bytes = budget_bytes
        self.size_bytes = 0
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._points: dict[int, dict[bytes, set[Key]]] = {}
        self._prefixes: dict[int, dict[bytes, set[Key]]] = {}
        self._prefix_lengths: dict[int, dict[int, int]] = {}
        self._others: dict[int, set[Key]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    # --- reads -------------------------------------------------------------------------

    def lookup(
        self, index_id: int, lower: bytes, upper: bytes | None, snapshot_ts: int, limit: int, descending: bool
    ) -> list[IndexRow] | None:
        """The first ``limit`` rows of the interval at ``snapshot_ts``, or None (ask PostgreSQL)."""
        key = (index_id, lower, upper, descending)
        entry = self._entries.get(key)
        if entry is None or entry.read_ts > snapshot_ts or (not entry.exhausted and len(entry.rows) < limit):
            METRICS.cache_misses_total += 1
            return None
        self._entries.move_to_end(key)
        METRICS.cache_hits_total += 1
        return entry.rows[:limit]

    def fill(
        self, index_id: int, lower: bytes, upper: bytes | None, snapshot_ts: int, limit: int, descending: bool,
        rows: list[IndexRow],
    ) -> None:
        """Remember a PostgreSQL read made at ``snapshot_ts``, unless a later commit wrote into it."""
        if self.budget_bytes <= 0:
            return
        interval = ReadSet()
        interval.add(index_id, Interval(lower, upper))
        if self.write_log.conflicts(interval, snapshot_ts):
            return
        key = (index_id, lower, upper, descending)
        if key in self._entries:
            self._remove(key)
        size = _ENTRY_OVERHEAD + sum(_ROW_OVERHEAD + len(row.key) + len(row.value) for row in rows)
        if size > self.budget_bytes // 4:
            return  # one huge range would flush everything else
        self._entries[key] = _Entry(rows, len(rows) < limit, snapshot_ts, size)
        self.size_bytes += size
        self._register(key)
        while self.size_bytes > self.budget_bytes:
            self._remove(next(iter(self._entries)))

    # --- invalidation --------------------------------------------------------------------

    def on_commit(self, ts: int, written: SortedKeys | None) -> None:
        """Drop every entry whose interval holds a key the commit wrote (everything if unknown)."""
        if written is None:
            self.clear()
            return
        doomed: set[Key] = set()
        for index_id, keys in written.by_index.items():
            points = self._points.get(index_id)
            prefixes = self._prefixes.get(index_id)
            lengths = self._prefix_lengths.get(index_id)
            others = self._others.get(index_id)
            for written_key in keys:
                if points:
                    doomed |= points.get(written_key, set())
                if prefixes and lengths:
                    for length in lengths:
                        doomed |= prefixes.get(written_key[:length], set())
                if others:
                    doomed |= {key for key in others if key[1] <= written_key and (key[2] is None or written_key < key[2])}
        for key in doomed:
            self._remove(key)

    def clear(self) -> None:
        self._entries.clear()
        self._points.clear()
        self._prefixes.clear()
        self._prefix_lengths.clear()
        self._others.clear()
        self.size_bytes = 0

    # --- bookkeeping ---------------------------------------------------------------------

    @staticmethod
    def _kind(lower: bytes, upper: bytes | None) -> str:
        if upper is not None and upper == lower + b"\x00":
            return "point"
        if lower and upper == successor(lower):
            return "prefix"
        return "other"

    def _register(self, key: Key) -> None:
        index_id, lower, upper, _ = key
        kind = self._kind(lower, upper)
        if kind == "point":
            self._points.setdefault(index_id, {}).setdefault(lower, set()).add(key)
        elif kind == "prefix":
            self._prefixes.setdefault(index_id, {}).setdefault(lower, set()).add(key)
            lengths = self._prefix_lengths.setdefault(index_id, {})
            lengths[len(lower)] = lengths.get(len(lower), 0) + 1
        else:
            self._others.setdefault(index_id, set()).add(key)

    def _remove(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.size_bytes -= entry.size
        index_id, lower, upper, _ = key
        kind = self._kind(lower, upper)
        if kind == "other":
            self._others[index_id].discard(key)
            return
        table = (self._points if kind == "point" else self._prefixes)[index_id]
        table[lower].discard(key)
        if not table[lower]:
            del table[lower]
        if kind == "prefix":
            lengths = self._prefix_lengths[index_id]
            lengths[len(lower)] -= 1
            if not lengths[len(lower)]:
                del lengths[len(lower)]
