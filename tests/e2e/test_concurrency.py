"""Serializable mutations under load, through the official npm client."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor


def test_concurrent_transfers_preserve_the_total(js):
    prefix = "acct-" + uuid.uuid4().hex[:6]
    ids = [js.js_one("mutation", "accounts:create", {"name": f"{prefix}-{i}", "balance": 1000.0})["value"] for i in range(6)]

    def batch(worker: int) -> list[dict]:
        calls = []
        for n in range(60):
            source = ids[(worker + n) % len(ids)]
            target = ids[(worker * 7 + n * 5 + 1) % len(ids)]
            if source == target:
                target = ids[(ids.index(source) + 1) % len(ids)]
            calls.append({"op": "mutation", "path": "accounts:transfer", "skipQueue": True,
                          "args": {"from_id": source, "to_id": target, "amount": 1.0}})
        return js.js([{"op": "parallel", "calls": calls}])[0]["value"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [result for worker_results in pool.map(batch, range(4)) for result in worker_results]

    assert len(results) == 240
    failures = [result for result in results if not result["ok"]]
    assert failures == []
    balances = [js.js_one("query", "accounts:byName", {"name": f"{prefix}-{i}"})["value"]["balance"] for i in range(6)]
    assert sum(balances) == 6000.0
