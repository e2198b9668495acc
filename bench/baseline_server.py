"""The thinnest possible server for each benchmark workload: starlette + uvicorn + asyncpg + orjson,
one SQL statement (or one short transaction) per request, no MVCC layer, no validation, no cache.
It is the floor every convexpy figure in bench/ is compared against.

Usage: python bench/baseline_server.py <dsn> <port>

    POST /api/query     {"path": "bench:getBySid", "args": {"sid"}}       one indexed SELECT
                        {"path": "bench:page", "args": {"after", "count"}}  keyset page of baseline_small
    POST /api/mutation  {"path": "bench:post", "args": {"channel", "n"}}    INSERT (two indexes)
                        {"path": "bench:scheduleWork", "args": {"n"}}      INSERT a job; JOB_WORKERS workers take
                                                                            them with FOR UPDATE SKIP LOCKED, mark
                                                                            them done and INSERT the work's row
                        {"path": "bench:postNotify", ...}                   INSERT + NOTIFY, one transaction
                        {"path": "bench:transfer", "args": {"from", "to", "amount", "key"}}
                                                                            lock both, UPDATE both, ledger INSERT
    WS   /observe       every NOTIFY on baseline_events is relayed to every socket

Tables are created by :func:`create_tables` (called from the workloads, not here).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

TABLES = """
CREATE TABLE IF NOT EXISTS baseline_services (id TEXT PRIMARY KEY, sid TEXT NOT NULL, name TEXT, owner TEXT);
CREATE INDEX IF NOT EXISTS baseline_services_sid ON baseline_services (sid);
CREATE TABLE IF NOT EXISTS baseline_events (id TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL,
                                            channel TEXT NOT NULL, n DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS baseline_events_created ON baseline_events (created);
CREATE INDEX IF NOT EXISTS baseline_events_channel ON baseline_events (channel);
CREATE TABLE IF NOT EXISTS baseline_accounts (id TEXT PRIMARY KEY, balance BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS baseline_transfers (key TEXT PRIMARY KEY, src TEXT NOT NULL, dst TEXT NOT NULL, amount BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS baseline_small (id BIGINT PRIMARY KEY, n BIGINT NOT NULL, label TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS baseline_jobs (id BIGSERIAL PRIMARY KEY, n BIGINT NOT NULL, scheduled_at DOUBLE PRECISION NOT NULL,
                                          done BOOLEAN NOT NULL DEFAULT false);
CREATE INDEX IF NOT EXISTS baseline_jobs_pending ON baseline_jobs (id) WHERE NOT done;
CREATE TABLE IF NOT EXISTS baseline_done (n BIGINT NOT NULL, scheduled_at DOUBLE PRECISION NOT NULL, ran_at DOUBLE PRECISION NOT NULL);
"""
JOB_WORKERS = 8
"""As many as convexpy's scheduler runs at once (Convex's 8)."""


async def create_tables(connection: asyncpg.Connection) -> None:
    await connection.execute(TABLES)


async def _no_reset(connection: asyncpg.Connection) -> None:
    pass


def _ok(value) -> Response:
    return Response(orjson.dumps({"status": "success", "value": value}), media_type="application/json")


class Baseline:
    def __init__(self, dsn: str):
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None
        self.listener: asyncpg.Connection | None = None
        self.sockets: set[WebSocket] = set()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette):
        # No reset round trip when a connection returns to the pool (the same as convexpy's pool):
        # the thinnest server does not pay for session state it never creates.
        self.pool = await asyncpg.create_pool(self.dsn, min_size=4, max_size=16, reset=_no_reset)
        self.listener = await asyncpg.connect(self.dsn)
        await self.listener.add_listener("baseline_events", self._relay)
        workers = [asyncio.create_task(self._job_worker()) for _ in range(JOB_WORKERS)]
        yield
        for worker in workers:
            worker.cancel()
        await self.listener.close()
        await self.pool.close()

    async def _job_worker(self) -> None:
        """The bare job queue: take the oldest pending job, skipping locked ones, run it, mark it done."""
        while True:
            async with self.pool.acquire() as connection, connection.transaction():
                job = await connection.fetchrow("SELECT id, n, scheduled_at FROM baseline_jobs WHERE NOT done ORDER BY id "
                                                "FOR UPDATE SKIP LOCKED LIMIT 1")
                if job is not None:
                    await connection.execute("UPDATE baseline_jobs SET done = true WHERE id = $1", job["id"])
                    await connection.execute("INSERT INTO baseline_done VALUES ($1, $2, $3)", job["n"], job["scheduled_at"],
                                             time.time() * 1000)
            if job is None:
                await asyncio.sleep(0.002)

    def _relay(self, connection, pid, channel, payload: str) -> None:
        for socket in list(self.sockets):
            asyncio.ensure_future(socket.send_text(payload))

    async def query(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        args = body["args"]
        if body.get("path") == "bench:doneStats":
            row = await self.pool.fetchrow(
                "SELECT count(*) AS count, max(ran_at) - min(scheduled_at) AS span, "
                "percentile_disc(0.5) WITHIN GROUP (ORDER BY ran_at - scheduled_at) AS p50, "
                "percentile_disc(0.99) WITHIN GROUP (ORDER BY ran_at - scheduled_at) AS p99 FROM baseline_done")
            return _ok({"count": row["count"], "spanMs": row["span"], "p50": row["p50"], "p99": row["p99"]})
        if body.get("path") == "bench:page":
            rows = await self.pool.fetch("SELECT id, n, label FROM baseline_small WHERE id > $1 ORDER BY id LIMIT $2",
                                         args["after"], args["count"])
            return _ok({"page": [dict(row) for row in rows], "isDone": len(rows) < args["count"]})
        row = await self.pool.fetchrow("SELECT id, sid, name, owner FROM baseline_services WHERE sid = $1", args["sid"])
        return _ok(None if row is None else {"_id": row["id"], "sid": row["sid"], "name": row["name"], "owner": row["owner"]})

    async def mutation(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        path, args = body["path"], body["args"]
        if path == "bench:transfer":
            async with self.pool.acquire() as connection, connection.transaction():
                # Rows locked in id order, so opposite transfers queue instead of deadlocking.
                await connection.execute("SELECT 1 FROM baseline_accounts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE",
                                         args["from"], args["to"])
                await connection.execute(
                    "UPDATE baseline_accounts SET balance = balance + CASE WHEN id = $2 THEN $3::bigint ELSE -$3::bigint END "
                    "WHERE id IN ($1, $2)", args["from"], args["to"], args["amount"])
                await connection.execute("INSERT INTO baseline_transfers VALUES ($1, $2, $3, $4)",
                                         args["key"], args["from"], args["to"], args["amount"])
            return _ok(None)
        if path == "bench:scheduleWork":
            await self.pool.execute("INSERT INTO baseline_jobs (n, scheduled_at) VALUES ($1, $2)", args["n"], time.time() * 1000)
            return _ok(None)
        id_ = uuid.uuid4().hex
        insert = "INSERT INTO baseline_events VALUES ($1, $2, $3, $4)"
        if path == "bench:postNotify":
            async with self.pool.acquire() as connection, connection.transaction():
                await connection.execute(insert, id_, time.time() * 1000, args["channel"], args["n"])
                await connection.execute("SELECT pg_notify('baseline_events', $1)", orjson.dumps(args).decode())
        else:
            await self.pool.execute(insert, id_, time.time() * 1000, args["channel"], args["n"])
        return _ok(id_)

    async def observe(self, socket: WebSocket) -> None:
        await socket.accept()
        self.sockets.add(socket)
        try:
            while True:
                await socket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            self.sockets.discard(socket)


def create_app(dsn: str) -> Starlette:
    baseline = Baseline(dsn)
    return Starlette(
        routes=[Route("/api/query", baseline.query, methods=["POST"]), Route("/api/mutation", baseline.mutation, methods=["POST"]),
                WebSocketRoute("/observe", baseline.observe)],
        lifespan=baseline.lifespan,
    )


if __name__ == "__main__":
    uvicorn.run(create_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False,
                ws_max_size=1 << 20)
