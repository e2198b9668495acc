"""Workload 3, contended transfers: `bench:transfer` reads two accounts, patches both and logs the
transfer; 80% of transfers are between the same two hot accounts, the rest between two of 1,000
others. The baseline runs the same three statements in one READ COMMITTED transaction (row locks
queue the writers instead of OCC retrying them).

Usage: python bench/transfers.py [--seconds 10]
Prints committed transfers/s at 32 clients, OCC retries, and whether every acknowledged transfer is
in the ledger exactly once with balances that add up.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter

import asyncpg
import httpx
import loadgen
from baseline_server import create_tables
from harness import Row, Server, load_note, run_for_seconds, running_baseline, running_server, seed

COLD = 1000
INITIAL = 1_000_000


def transfer_body(run_id: str):
    def make(worker: int, n: int) -> dict:
        if random.random() < 0.8:
            source, target = random.sample(["a0", "a1"], 2)
        else:
            source, target = (f"a{2 + k}" for k in random.sample(range(COLD), 2))
        args = {"from": source, "to": target, "amount": 1, "key": f"{run_id}-{worker}-{n}"}
        return {"path": "bench:transfer", "args": args, "format": "convex_encoded_json"}

    return make


def check(balances: dict[str, int], transfers: list[list], acknowledged: int) -> str:
    """'' if the ledger holds exactly ``acknowledged`` distinct transfers and every balance matches it."""
    keys = Counter(key for key, *_ in transfers)
    if any(count > 1 for count in keys.values()):
        return "a transfer was applied twice"
    if len(keys) != acknowledged:
        return f"{acknowledged} transfers acknowledged, {len(keys)} in the ledger"
    expected = dict.fromkeys(balances, INITIAL)
    for _, source, target, amount in transfers:
        expected[source] -= amount
        expected[target] += amount
    wrong = [name for name in balances if balances[name] != expected[name]]
    return f"balances of {wrong[:3]} do not match the ledger" if wrong else ""


def conflicts(server: Server) -> int:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith("convexpy_conflicts_total "):
            return int(line.split()[1])
    raise SystemExit("no convexpy_conflicts_total in /metrics")


def convexpy_ledger(server: Server) -> tuple[dict[str, int], list[list]]:
    """Balances and every logged transfer, read page by page (a transfer log outgrows one result)."""
    with httpx.Client(base_url=server.url, timeout=120) as http:
        def query(path: str, args: dict):
            result = http.post("/api/query", json={"path": path, "args": args}).json()
            if result["status"] != "success":
                raise SystemExit(f"{path} failed: {result}")
            return result["value"]

        balances = dict(query("bench:balances", {}))
        transfers, cursor = [], None
        while True:
            page = query("bench:transferPage", {"paginationOpts": {"numItems": 4000, "cursor": cursor}})
            transfers += page["page"]
            if page["isDone"]:
                return balances, transfers
            cursor = page["continueCursor"]


async def baseline_ledger(dsn: str, setup: bool) -> tuple[dict[str, int], list[list]]:
    connection = await asyncpg.connect(dsn)
    try:
        if setup:
            await create_tables(connection)
            await connection.execute("TRUNCATE baseline_accounts, baseline_transfers")
            await connection.copy_records_to_table("baseline_accounts", records=[(f"a{n}", INITIAL) for n in range(COLD + 2)])
        balances = {row["id"]: row["balance"] for row in await connection.fetch("SELECT id, balance FROM baseline_accounts")}
        transfers = [list(row) for row in await connection.fetch("SELECT key, src, dst, amount FROM baseline_transfers")]
        return balances, transfers
    finally:
        await connection.close()


def run(seconds: float = 10.0, concurrency: int = 32) -> list[Row]:
    run_id = uuid.uuid4().hex[:8]
    with running_server() as server:
        seed(server, "bench:seedAccounts", COLD + 2, 1002)
        host, port = server.host_port
        before = conflicts(server)
        ours = loadgen.run(host, port, "/api/mutation", transfer_body(run_id), concurrency, seconds)
        retries = conflicts(server) - before
        ours_problem = check(*convexpy_ledger(server), ours.requests - ours.errors)

        asyncio.run(baseline_ledger(server.dsn, setup=True))
        with running_baseline(server.dsn) as baseline:
            theirs = loadgen.run(*baseline.host_port, "/api/mutation", transfer_body(run_id), concurrency, seconds)
        theirs_problem = check(*asyncio.run(baseline_ledger(server.dsn, setup=False)), theirs.requests - theirs.errors)

    committed, base_committed = ours.requests - ours.errors, theirs.requests - theirs.errors
    return [
        Row("3 transfers", f"committed/s, {concurrency} clients, 80% on 2 accounts", committed / ours.seconds,
            base_committed / theirs.seconds, "/s", "≥ 500/s", committed / ours.seconds >= 500, load_note(ours, theirs)),
        Row("3 transfers", "OCC retries per committed transfer", retries / max(1, committed), None, "",
            note=f"{retries:,} retries (baseline: row locks, no retries)"),
        Row("3 transfers", "ledger: every acknowledged transfer once", committed, base_committed, "transfers",
            "none lost or doubled", not ours_problem and not theirs_problem,
            f"convexpy: {ours_problem or 'ok'}; baseline: {theirs_problem or 'ok'}"),
    ]


if __name__ == "__main__":
    run_for_seconds(run, __doc__.splitlines()[0])
