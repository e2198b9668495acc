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

Commits made by this replica carry their rows, so the entries they touch are
patched with them instead of dropped, and are valid from the commit's ts on: a
key written over and over (a counter, a hot account) or the newest rows of a
feed (``order("desc").first()``) keep being read without a round trip. Other
replicas' commits arrive as keys only and drop what they touch.

Only point and prefix intervals and small complete ranges are admitted: a
paginated scan of a big table would otherwise flush the cache and make every
commit check thousands of ranges.

Finding the entries a written key falls in must not scan the cache: point
intervals (``db.get``, by_id) are found by the key itself; prefix intervals
(``q.eq(...)`` on leading fields, the ``by_sid`` hot path) by the key's
prefixes of the lengths in use; only other ranges are checked one by one.
Entries are evicted least-recently-used beyond a byte budget.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from ..metrics import METRICS
from ..storage.postgres import IndexRow
from ..values.sortkey import successor
from .readset import Interval, ReadSet, SortedKeys

if TYPE_CHECKING:
    from .committer import CommitRequest
    from .writelog import WriteLog

Key = tuple[int, bytes, "bytes | None", bool]
_ROW_OVERHEAD = 120
_ENTRY_OVERHEAD = 300
SMALL_RANGE_ROWS = 64
"""Ranges that are neither points nor prefixes are cached only if complete and at most this long."""
MAX_OTHER_RANGES = 1024
"""Per index: such ranges are checked one by one on every write to the index, so they are capped."""


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
        kind = self._kind(lower, upper)
        exhausted = len(rows) < limit or kind == "point"  # a point interval holds at most one key
        if kind == "other" and (
            not exhausted or len(rows) > SMALL_RANGE_ROWS or len(self._others.get(index_id, ())) >= MAX_OTHER_RANGES
        ):
            return
        if key in self._entries:
            self._remove(key)
        size = _entry_size(rows)
        if size > self.budget_bytes // 4:
            return  # one huge range would flush everything else
        self._entries[key] = _Entry(rows, exhausted, snapshot_ts, size)
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
            for written_key in keys:
                doomed |= self._holding(index_id, written_key)
        for key in doomed:
            self._remove(key)

    def on_local_commit(self, ts: int, request: "CommitRequest") -> None:
        """A commit of this replica: patch the entries holding a written key with its rows.

        A partial entry (the first rows of its interval in scan order) takes a key
        that sorts among its rows; a key past its last row changes nothing in it.
        """
        values = {doc.internal_id: doc.value for doc in request.documents}
        patched: set[Key] = set()
        for write in request.index_writes:
            for key in self._holding(write.index_id, write.key):
                entry = self._entries.get(key)
                if entry is None:
                    continue
                if not entry.exhausted and not entry.rows:
                    self._remove(key)  # it knows nothing of its interval
                    continue
                if not entry.exhausted and _beyond(entry.rows, write.key, descending=key[3]):
                    continue  # the entry's first rows in scan order are still the first rows
                row = None if write.document_id is None else IndexRow(write.key, ts, write.document_id, values[write.document_id])
                _replace_row(entry.rows, write.key, row, descending=key[3])
                patched.add(key)
        for key in patched:
            entry = self._entries[key]
            entry.read_ts = ts  # right from this commit on; older snapshots must miss
            size = _entry_size(entry.rows)
            self.size_bytes += size - entry.size
            entry.size = size
        while self.size_bytes > self.budget_bytes:
            self._remove(next(iter(self._entries)))

    def _holding(self, index_id: int, written_key: bytes) -> set[Key]:
        """The entries whose interval contains ``written_key``."""
        found: set[Key] = set()
        points = self._points.get(index_id)
        if points:
            found |= points.get(written_key, set())
        prefixes = self._prefixes.get(index_id)
        lengths = self._prefix_lengths.get(index_id)
        if prefixes and lengths:
            for length in lengths:
                found |= prefixes.get(written_key[:length], set())
        others = self._others.get(index_id)
        if others:
            found |= {key for key in others if key[1] <= written_key and (key[2] is None or written_key < key[2])}
        return found

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


def _entry_size(rows: Iterable[IndexRow]) -> int:
    return _ENTRY_OVERHEAD + sum(_ROW_OVERHEAD + len(row.key) + len(row.value) for row in rows)


def _beyond(rows: list[IndexRow], key: bytes, *, descending: bool) -> bool:
    """Whether ``key`` sorts after the last of ``rows`` (not empty) in scan order."""
    return key < rows[-1].key if descending else key > rows[-1].key


def _replace_row(rows: list[IndexRow], key: bytes, row: IndexRow | None, *, descending: bool) -> None:
    """Put ``row`` (None: nothing) at ``key`` in ``rows``, which are in scan order."""
    keys = [r.key for r in rows]
    if descending:
        keys.reverse()
    at = bisect_left(keys, key)
    present = at < len(keys) and keys[at] == key
    if descending:
        at = len(rows) - at - (1 if present else 0)
    if present:
        if row is None:
            del rows[at]
        else:
            rows[at] = row
    elif row is not None:
        rows.insert(at, row)
