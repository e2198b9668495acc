"""Whole ``/api/query`` responses, reused while no commit touched what the query read.

A query is a deterministic function of the database (as in Convex, a query
must not depend on the clock or randomness: its result is cached). Its
outcome at ts ``T`` carries the read set, the index intervals it read; the
result stays right at every later ts as long as no commit wrote into those
intervals, which the write log answers. So the encoded response of a query
that succeeded, printed nothing and never looked at ``ctx.auth`` is kept
under ``(path, args, format, admin bit)`` and sent again as is: no
transaction, no function call, no encoding. Each reuse moves the entry's ts
up to the write log's newest commit, so the next check walks only the
commits since; an entry older than ``MAX_CHECKED_COMMITS`` commits is run
again instead of checked.

Subscriptions rely on the same read sets, so this cache is as right as they are.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..metrics import METRICS
from ..runtime.executor import Outcome

if TYPE_CHECKING:
    from ..database.writelog import WriteLog

Key = tuple[Any, bytes, str, bool]
"""(function path, sorted args JSON, response format, admin bit)"""
MAX_CHECKED_COMMITS = 64
MAX_BODY_BYTES = 64 * 1024
_ENTRY_OVERHEAD = 400
_INTERVAL_BYTES = 150


class QueryResponseCache:
    def __init__(self, write_log: "WriteLog", budget_bytes: int):
        self.write_log = write_log
        self.budget_bytes = budget_bytes
        self.size_bytes = 0
        self._entries: OrderedDict[Key, list] = OrderedDict()
        """key -> [valid_from_ts, read_set, body, size]"""

    def get(self, key: Key) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        valid_from, read_set, body, _ = entry
        newest = self.write_log.max_ts
        if valid_from < newest:
            if self.write_log.conflicts(read_set, valid_from, MAX_CHECKED_COMMITS):
                self._remove(key)
                return None
            entry[0] = newest
        self._entries.move_to_end(key)
        METRICS.query_cache_hits_total += 1
        return body

    def put(self, key: Key, outcome: Outcome, body: bytes) -> None:
        """Keep ``body`` if ``outcome`` can be reused: a success, no logs, no identity, small."""
        if (
            self.budget_bytes <= 0 or not outcome.success or outcome.log_lines or outcome.uses_identity
            or outcome.read_set is None or outcome.ts is None or len(body) > MAX_BODY_BYTES
        ):
            return
        if self.write_log.conflicts(outcome.read_set, outcome.ts, MAX_CHECKED_COMMITS):
            return  # a commit landed while it ran: already out of date
        self._remove(key)
        size = _ENTRY_OVERHEAD + len(key[1]) + len(body) + _INTERVAL_BYTES * outcome.read_set.count
        self._entries[key] = [outcome.ts, outcome.read_set, body, size]
        self.size_bytes += size
        while self.size_bytes > self.budget_bytes:
            self._remove(next(iter(self._entries)))

    def _remove(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size_bytes -= entry[3]
