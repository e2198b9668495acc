"""The write log: bounded by keys as well as commits, and never wrong about what it forgot."""

from __future__ import annotations

from convexpy.database.readset import Interval, ReadSet, SortedKeys
from convexpy.database.writelog import WriteLog


def reading(key: bytes) -> ReadSet:
    read_set = ReadSet()
    read_set.add(1, Interval(key, key + b"\x00"))
    return read_set


def test_bulk_commits_are_forgotten_by_key_count_and_old_snapshots_then_conflict():
    log = WriteLog(0, max_keys=1000)
    for ts in range(1, 11):
        log.append(ts, SortedKeys([(1, b"bulk%d-%d" % (ts, n)) for n in range(400)]))
    assert log.key_count <= 1000 and len(log.entries) == 2
    assert log.start_ts == 8
    assert log.conflicts(reading(b"untouched"), 5)  # older than the log: cannot tell, so "conflicts"
    assert not log.conflicts(reading(b"untouched"), 8)
    assert log.conflicts(reading(b"bulk10-3"), 9)
    assert not log.conflicts(reading(b"bulk10-3"), 10)


def test_one_commit_bigger_than_the_budget_is_kept():
    log = WriteLog(0, max_keys=10)
    log.append(1, SortedKeys([(1, b"k%d" % n) for n in range(50)]))
    assert len(log.entries) == 1 and log.conflicts(reading(b"k7"), 0)
