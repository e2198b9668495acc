"""A client that stops reading does not hold up others, and catches up with the latest
state rather than every intermediate one."""

from __future__ import annotations

import uuid

from .wire import WireClient

BUMPS = 200


def test_slow_client_gets_latest_state_and_does_not_slow_others(server):
    name = "bp" + uuid.uuid4().hex[:8]
    slow, fast = WireClient(server.url), WireClient(server.url)
    try:
        slow.connect()
        slow.modify(slow.add(0, "counter:read", {"name": name, "padded": True}))
        assert slow.recv_modification(0)[1]["value"]["n"] == 0
        fast.connect()
        fast.modify(fast.add(0, "counter:read", {"name": name, "padded": False}))
        fast.recv_modification(0)

        for _ in range(BUMPS):  # the slow client reads nothing meanwhile
            assert server.post("/api/mutation", {"path": "counter:bump", "args": {"name": name}}).json()["status"] == "success"

        n = 0
        while n < BUMPS:  # the fast client keeps up while the slow one is stalled
            n = fast.recv_modification(0, timeout=20)[1]["value"]["n"]

        values = []
        while not values or values[-1] < BUMPS:
            values.append(slow.recv_modification(0, timeout=20)[1]["value"]["n"])
        assert values[-1] == BUMPS
        assert len(values) < BUMPS / 2, f"the slow client was sent {len(values)} intermediate states"
    finally:
        slow.close()
        fast.close()
