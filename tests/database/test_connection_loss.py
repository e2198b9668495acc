"""Connections to PostgreSQL cut mid-flight: every commit is either applied once and acknowledged,
or reported as a retryable error; none is half-applied or silently dropped."""

from __future__ import annotations

import asyncio
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import asyncpg
import orjson
import pytest

from convexpy.database import Database
from convexpy.errors import Overloaded

from ..proxy import CuttableProxy


def upstream_of(dsn: str) -> int | str:
    """The proxy target for a DSN: its Unix socket path, or its TCP port."""
    parts = urlsplit(dsn)
    host = parse_qs(parts.query).get("host", [parts.hostname or ""])[0]
    port = parts.port or 5432
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else port


@pytest.fixture
def proxy(fresh_database):
    cuttable = CuttableProxy(upstream_of(fresh_database))
    yield cuttable
    cuttable.close()


async def test_commits_survive_cut_connections(fresh_database, proxy):
    name = urlsplit(fresh_database).path.lstrip("/")
    through_proxy = f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}"
    db = await Database.open(through_proxy, pool_size=8, follow=False)
    table = await db.ensure_table("things")

    async def write(tag: str) -> str:
        async def body(tx):
            await tx.insert(table, {"tag": tag})

        try:
            await db.run_mutation(body)
            return "ok"
        except Overloaded as error:
            return "not applied" if "Nothing was applied" in error.message else "unknown"

    outcomes_by_tag: dict[str, str] = {}
    done = asyncio.Event()
    cuts = 0

    async def writer(w: int) -> None:
        # At least 15 writes each, and on until the connections were cut a few times (however fast commits are).
        n = 0
        while (n < 15 or cuts < 5) and n < 2000:
            outcomes_by_tag[f"t{w}-{n}"] = await write(f"t{w}-{n}")
            n += 1

    async def cutter() -> None:
        nonlocal cuts
        while not done.is_set():
            await asyncio.sleep(0.03)
            await asyncio.to_thread(proxy.cut)
            cuts += 1

    cutting = asyncio.create_task(cutter())
    await asyncio.gather(*(writer(w) for w in range(40)))
    done.set()
    await cutting
    await db.close()
    tags = list(outcomes_by_tag)
    outcomes = [outcomes_by_tag[tag] for tag in tags]

    direct = await asyncpg.connect(fresh_database)
    try:
        documents = await direct.fetch("SELECT value FROM cx_documents")
        index_entries = await direct.fetchval("SELECT count(*) FROM cx_indexes")
    finally:
        await direct.close()
    stored = Counter(orjson.loads(row["value"])["tag"] for row in documents)
    for tag, outcome in zip(tags, outcomes):
        expected = {"ok": (1,), "not applied": (0,), "unknown": (0, 1)}[outcome]
        assert stored[tag] in expected, (tag, outcome, stored[tag])
    assert index_entries == 2 * len(documents)  # by_id and by_creation_time for every document: nothing half there
    assert cuts >= 5 and outcomes.count("ok") > 0


async def test_a_commit_still_running_when_its_connection_is_cut_is_never_reported_unapplied_and_then_applied(
    fresh_database, proxy
):
    """The server keeps running a statement whose client vanished. Here the commit waits on the
    clock row (held by another session) while its connection is cut; whatever the committer then
    tells its caller must stay true after the row is released."""
    name = urlsplit(fresh_database).path.lstrip("/")
    db = await Database.open(f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}", pool_size=4, follow=False)
    blocker = await asyncpg.connect(fresh_database)
    try:
        table = await db.ensure_table("things")
        await blocker.execute("BEGIN")
        await blocker.execute("SELECT ts FROM cx_clock WHERE id = 1 FOR UPDATE")

        async def body(tx):
            await tx.insert(table, {"tag": "in-flight"})

        mutation = asyncio.create_task(db.run_mutation(body, max_retries=1))
        for _ in range(500):  # until the commit statement waits on the clock row
            waiting = await blocker.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting, "the commit never reached the clock row"
        await asyncio.to_thread(proxy.cut)
        try:
            await asyncio.wait_for(asyncio.shield(mutation), 2.0)
            outcome = "ok"
        except Overloaded as error:
            outcome = "not applied" if "Nothing was applied" in error.message else "unknown"
        except asyncio.TimeoutError:
            outcome = "pending"
        await blocker.execute("COMMIT")  # the orphaned statement, if still alive, may now go on
        if outcome == "pending":
            try:
                await mutation
                outcome = "ok"
            except Overloaded as error:
                outcome = "not applied" if "Nothing was applied" in error.message else "unknown"
        await asyncio.sleep(0.5)
        stored = await blocker.fetchval("SELECT count(*) FROM cx_documents WHERE value IS NOT NULL AND table_number = $1", table.number)
        assert stored in {"ok": (1,), "not applied": (0,), "unknown": (0, 1)}[outcome], (outcome, stored)
    finally:
        await blocker.close()
        await db.close()
