"""Read sets: the index intervals a transaction's result depends on.

A transaction records intervals of index keyspace, not rows. A range scan
records the part of the range it actually walked, so an insert anywhere in
that part (a phantom) conflicts too. ``db.get`` records a one-key interval.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable

MAX_READ_INTERVALS = 4096


@dataclass(frozen=True, slots=True)
class Interval:
    """Keys ``k`` with ``lower <= k < upper``; ``upper`` None is unbounded."""

    lower: bytes
    upper: bytes | None

    def contains(self, key: bytes) -> bool:
        return self.lower <= key and (self.upper is None or key < self.upper)


def point(key: bytes) -> Interval:
    """The interval holding exactly ``key``."""
    return Interval(key, key + b"\x00")


@dataclass(slots=True)
class ReadSet:
    intervals: dict[int, list[Interval]] = field(default_factory=dict)
    count: int = 0

    def add(self, index_id: int, interval: Interval) -> None:
        if interval.upper is not None and interval.upper <= interval.lower:
            return
        self.intervals.setdefault(index_id, []).append(interval)
        self.count += 1

    def add_slot(self, index_id: int, interval: Interval) -> int:
        """Add ``interval`` even if empty, and return its position for :meth:`replace`."""
        intervals = self.intervals.setdefault(index_id, [])
        intervals.append(interval)
        self.count += 1
        return len(intervals) - 1

    def replace(self, index_id: int, slot: int, interval: Interval) -> None:
        """Widen the interval at ``slot`` (a scan that walked further)."""
        self.intervals[index_id][slot] = interval


class SortedKeys:
    """A commit's written keys, grouped and sorted per index for fast interval checks."""

    __slots__ = ("by_index",)

    def __init__(self, written: Iterable[tuple[int, bytes]]):
        self.by_index: dict[int, list[bytes]] = {}
        for index_id, key in written:
            self.by_index.setdefault(index_id, []).append(key)
        for keys in self.by_index.values():
            keys.sort()

    def intersects(self, read_set: ReadSet) -> bool:
        for index_id, intervals in read_set.intervals.items():
            keys = self.by_index.get(index_id)
            if not keys:
                continue
            for interval in intervals:
                position = bisect.bisect_left(keys, interval.lower)
                if position < len(keys) and (interval.upper is None or keys[position] < interval.upper):
                    return True
        return False

    def pairs(self) -> Iterable[tuple[int, bytes]]:
        for index_id, keys in self.by_index.items():
            for key in keys:
                yield index_id, key
