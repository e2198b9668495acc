"""The write log: recent commits' written keys, in commit order.

Every replica keeps one, fed by its own commits and by the commit log in
PostgreSQL. OCC validation asks it "did anything written after my snapshot
touch what I read?"; subscriptions and the index cache ask the same.

It is bounded by commits and by keys (a bulk load writes many keys per
commit). Forgetting old entries is always safe: a snapshot older than the log
is answered "conflicts" (retry the mutation, re-run the query, skip the fill).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .readset import ReadSet, SortedKeys


@dataclass(slots=True)
class LogEntry:
    ts: int
    keys: SortedKeys
    size: int


class WriteLog:
    def __init__(self, start_ts: int, max_entries: int = 100_000, max_keys: int = 250_000):
        self.entries: deque[LogEntry] = deque()
        self.start_ts = start_ts
        """Validation is possible for snapshots at or after this ts."""
        self.max_ts = start_ts
        self.max_entries = max_entries
        self.max_keys = max_keys
        self.key_count = 0

    def reset(self, ts: int) -> None:
        """Forget everything: validation is possible again only for snapshots at or after ``ts``."""
        self.entries.clear()
        self.key_count = 0
        self.start_ts = self.max_ts = ts

    def append(self, ts: int, keys: SortedKeys) -> None:
        if ts <= self.max_ts:
            return
        size = sum(len(written) for written in keys.by_index.values())
        self.entries.append(LogEntry(ts, keys, size))
        self.key_count += size
        self.max_ts = ts
        while len(self.entries) > 1 and (len(self.entries) > self.max_entries or self.key_count > self.max_keys):
            dropped = self.entries.popleft()
            self.key_count -= dropped.size
            self.start_ts = dropped.ts

    def conflicts(self, read_set: ReadSet, snapshot_ts: int, limit: int | None = None) -> bool:
        """True if a commit after ``snapshot_ts`` wrote into ``read_set`` (or we can't tell).

        With ``limit``, more than that many commits since ``snapshot_ts`` count as "can't tell":
        for callers for whom checking would cost more than redoing the work.
        """
        if snapshot_ts < self.start_ts:
            return True
        for checked, entry in enumerate(reversed(self.entries)):
            if entry.ts <= snapshot_ts:
                return False
            if entry.keys.intersects(read_set) or (limit is not None and checked >= limit):
                return True
        return False
