"""Subscriptions: which query results a commit invalidates (DESIGN.md section 6).

A subscription is a query result's read set and the snapshot ts it was read
at. The manager is told of every commit synchronously, in ts order, right
after ``latest_ts`` moves; it invalidates exactly the subscriptions whose
read intervals contain a written key and calls their owner back. So a
subscription that is still valid is known to be valid through ``latest_ts``.

A result computed at ``T`` may be subscribed only after later commits have
already been applied; :meth:`SubscriptionManager.subscribe` replays the write
log after ``T`` so those are not missed.
"""

from __future__ import annotations

from typing import Callable

from ..database import Database
from ..database.readset import ReadSet, SortedKeys


class Subscription:
    __slots__ = ("read_set", "ts", "on_invalidate", "valid", "_manager", "_registered")

    def __init__(self, manager: "SubscriptionManager", read_set: ReadSet, ts: int, on_invalidate: Callable[[], None]):
        self._manager = manager
        self.read_set = read_set
        self.ts = ts
        self.on_invalidate = on_invalidate
        self.valid = True
        self._registered = False

    def cancel(self) -> None:
        self._manager._remove(self)
        self.valid = False


NO_READS = -1
"""Where subscriptions that read no index are kept: no commit touches them, a code change does."""


class SubscriptionManager:
    def __init__(self, database: Database):
        self.database = database
        self._by_index: dict[int, set[Subscription]] = {}
        self.count = 0
        """Subscriptions currently watched."""
        self.generation = 0
        """Bumped by :meth:`invalidate_all`: a result computed before the bump is stale however it reads."""
        database.commit_listeners.append(self._on_commit)

    def subscribe(self, read_set: ReadSet, ts: int, on_invalidate: Callable[[], None], generation: int | None = None) -> Subscription:
        """Watch ``read_set`` as read at ``ts`` (by code of ``generation``). Already-stale results are
        invalidated at once."""
        subscription = Subscription(self, read_set, ts, on_invalidate)
        if self.database.write_log.conflicts(read_set, ts) or (generation is not None and generation < self.generation):
            subscription.valid = False
            on_invalidate()
            return subscription
        for index_id in read_set.intervals or (NO_READS,):
            self._by_index.setdefault(index_id, set()).add(subscription)
        subscription._registered = True
        self.count += 1
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        if not subscription._registered:
            return
        subscription._registered = False
        self.count -= 1
        for index_id in subscription.read_set.intervals or (NO_READS,):
            subs = self._by_index.get(index_id)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._by_index[index_id]

    def invalidate_all(self) -> None:
        """Every subscription is re-run (the deployment's code changed: any result may differ),
        including those whose query is running now."""
        self.generation += 1
        self._on_commit(0, None)

    def _on_commit(self, ts: int, written: SortedKeys | None) -> None:
        hit: list[Subscription] = []
        if written is None:  # the replica resynced, or the code changed: nothing can be assumed still valid
            hit = list({sub for subs in self._by_index.values() for sub in subs})
            for subscription in hit:
                subscription.valid = False
        for index_id in written.by_index if written is not None else ():
            for subscription in self._by_index.get(index_id, ()):
                if subscription.valid and subscription.ts < ts and written.intersects(subscription.read_set):
                    subscription.valid = False
                    hit.append(subscription)
        for subscription in hit:
            self._remove(subscription)
            subscription.on_invalidate()
