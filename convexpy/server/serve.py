"""Starting a deployment: database, functions, schema, and both HTTP servers in one event loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import uvicorn

from .. import __version__
from ..database import Database
from ..runtime import environment
from ..runtime.auth import AdminKeys, load_instance_secret
from ..runtime.calls import Deployment
from ..runtime.crons import CronRunner
from ..runtime.executor import Executor
from ..runtime.js.node import NodeSpawner, find_node
from ..runtime.js.pushed import PushedCode
from ..runtime.liveness import ReplicaLiveness
from ..runtime.loader import load_functions
from ..runtime.pool import RunnerPool
from ..runtime.scheduler import Scheduler
from ..settings import Settings
from ..storage.embedded import EmbeddedPostgres
from .app import create_api_app, create_site_app
from .transport import AbortableWebSocketProtocol, http_protocol
from .watchdog import EmbeddedWatchdog

logger = logging.getLogger("convexpy")
SHUTDOWN_GRACE_S = 10.0
"""On SIGTERM, requests still running after this are cut: a stop always completes."""


def configure_logging(level: str) -> None:
    """Our log at ``level``; the embedded PostgreSQL's setup and uvicorn's start lines only at debug
    (they are dozens of lines, and uvicorn's print once per port)."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level.lower() != "debug":
        for noisy in ("pgserver", "uvicorn", "uvicorn.error"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def database_name(instance_name: str) -> str:
    """The reference backend's convention: the instance name with ``-`` as ``_``."""
    return instance_name.replace("-", "_")


async def ensure_database(url: str, instance_name: str) -> str:
    """``url`` if it names a database; else the instance's database on that server, created if missing."""
    parts = urlsplit(url)
    if parts.path not in ("", "/"):
        return url
    name = database_name(instance_name)
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await admin.close()
    return urlunsplit(parts._replace(path="/" + name))


def _embedded_url(base: str) -> str:
    """The embedded server's DSN with its path emptied, so the instance database is used."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/"))


def announce(settings: Settings, keys: AdminKeys, functions: int) -> None:
    """What a user needs to connect, printed once the server answers (the admin key last)."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "127.0.0.1") else settings.host
    database = "embedded PostgreSQL" if settings.database_url is None else "PostgreSQL at --database-url"
    lines = [
        f"convexpy {__version__} is serving {functions} functions from {settings.functions}",
        f"  API:   http://{host}:{settings.port}   (set CONVEX_SELF_HOSTED_URL to this)",
        f"  Site:  http://{host}:{settings.site_port}   (HTTP actions)",
        f"  Data:  {settings.data_dir} ({database})",
    ]
    if settings.workers > 1:
        lines.append(f"  Workers: {settings.workers} replica processes on these ports")
    lines += ["  (set CONVEX_SELF_HOSTED_ADMIN_KEY to the admin key below; `convexpy admin-key` prints it again)",
              f"  Admin key: {keys.key}"]
    print("\n".join(lines), flush=True)


@dataclass
class PreparedDatabase:
    dsn: str
    embedded: EmbeddedPostgres | None
    """The embedded cluster this process started (and watches), if no URL was given."""


async def prepare_database(settings: Settings, stack: AsyncExitStack) -> PreparedDatabase:
    """The DSN to use: the configured server's instance database, or the embedded one's (started here)."""
    url = settings.database_url
    embedded = None
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        base = await asyncio.to_thread(embedded.start)
        stack.callback(embedded.stop)
        url = _embedded_url(base)
        logger.debug("embedded PostgreSQL running in %s", embedded.pgdata)
    return PreparedDatabase(await ensure_database(url, settings.instance_name), embedded)


def _servers(settings: Settings, deployment: Deployment) -> list[uvicorn.Server]:
    # Both ports: a request must arrive within http_timeout_s, an idle keep-alive connection is
    # closed after http_idle_s, and past max_connections new requests are answered 503.
    limits = {
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_S, "timeout_keep_alive": settings.http_idle_s, "limit_concurrency": settings.max_connections,
        "http": http_protocol(settings.http_timeout_s), "access_log": False,
        "log_config": None, "log_level": "debug" if settings.log_level == "debug" else "warning",
        "lifespan": "off", "proxy_headers": False,  # the client address is never used
    }
    api = uvicorn.Config(
        create_api_app(deployment), host=settings.host, port=settings.port,
        ws=AbortableWebSocketProtocol, ws_max_size=32 * 1024 * 1024, ws_ping_interval=5.0, ws_ping_timeout=120.0, **limits,
    )
    site = uvicorn.Config(create_site_app(deployment), host=settings.host, port=settings.site_port, **limits)
    servers = [uvicorn.Server(api), uvicorn.Server(site)]
    for server in servers:
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    return servers


def tune_garbage_collector() -> None:
    """Keep CPython's cyclic collector off the request path.

    Everything allocated while starting (modules, the user's functions, the catalog) lives as
    long as the process, so it is frozen out of collection; and full collections, which walk
    every tracked object (a thousand sync sessions are a lot of them), run a tenth as often.
    Without this a full collection stalled the event loop for up to 200 ms mid-fan-out.
    """
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, 10_000), middle, max(old, 100))


async def run_replica(
    settings: Settings, dsn: str, *, sockets: tuple[socket.socket, socket.socket] | None = None, quiet: bool = False,
    embedded: EmbeddedPostgres | None = None, dev: bool = False,
) -> None:
    """Serve one replica on ``dsn`` until SIGINT/SIGTERM: on its own ports, or on ``sockets``
    (API, site) inherited from a supervisor. ``embedded``: the cluster this process owns and watches.
    ``dev``: reload the functions folder when it changes (``convexpy dev``)."""
    keys = AdminKeys(settings.instance_name, load_instance_secret(settings.data_dir, settings.instance_secret))
    registry = load_functions(settings.functions)
    async with AsyncExitStack() as stack:
        database = await Database.open(dsn, settings=settings)
        stack.push_async_callback(database.close)
        if embedded is not None:
            watchdog = EmbeddedWatchdog(embedded)
            database.watched.append(watchdog)
            watchdog.start()
            stack.push_async_callback(watchdog.stop)
        await database.schemas.push(registry.schema, force=settings.force_schema)
        await environment.ensure_table(database)
        executor = Executor(registry, database, settings.functions, settings)
        executor.pushed = PushedCode(database)
        await executor.pushed.load()
        executor.pushed.watch()
        registry.pushed = executor.pushed.functions
        if settings.runners > 0:
            executor.pool = RunnerPool(settings.functions, settings.runners, memory_mb=settings.runner_memory_mb)
            await executor.pool.open()
            stack.push_async_callback(executor.pool.stop)
            node = find_node(settings.node)
            if node is not None:
                executor.node_pool = RunnerPool(settings.functions, 0, spawner=NodeSpawner(node, settings.runner_memory_mb))
                await executor.node_pool.open()
                stack.push_async_callback(executor.node_pool.stop)
        liveness = ReplicaLiveness(database.persistence.pool)
        await liveness.hold()
        stack.push_async_callback(liveness.release)
        scheduler = Scheduler(executor, liveness, settings.scheduler_parallelism, retention_s=settings.scheduled_retention_s)
        crons = CronRunner(executor, liveness, settings.scheduler_parallelism)
        for service in (scheduler, crons):
            await service.prepare()
            service.watch()
            service.start()
            stack.push_async_callback(service.stop)
            database.watched.append(service)
        deployment = Deployment(
            executor, keys, settings.instance_name, settings.redact_logs,
            session_outbox_bytes=int(settings.session_outbox_mb * 1024 * 1024), session_max_queries=settings.session_max_queries,
            site_port=settings.site_port,
        )
        servers = _servers(settings, deployment)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        tasks = [
            asyncio.create_task(server.serve(sockets=[sockets[i]] if sockets else None)) for i, server in enumerate(servers)
        ]
        while not all(server.started for server in servers):
            for task in tasks:
                if task.done():
                    if task.exception():
                        raise task.exception()  # type: ignore[misc]
                    raise SystemExit(f"could not listen on ports {settings.port}/{settings.site_port}")
            await asyncio.sleep(0.02)
        tune_garbage_collector()
        if not quiet:
            announce(settings, keys, len(registry.functions))
        if dev:
            from .dev import start_watching  # watchfiles only where it is used

            on_reload = executor.pushed.on_change if executor.pushed is not None else []
            watcher = start_watching(executor, settings.functions, on_reload, stop)
            stack.push_async_callback(lambda: asyncio.wait([watcher], timeout=5))
        await stop.wait()
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


async def serve(settings: Settings, dev: bool = False) -> None:
    """``convexpy serve`` with one process: the database (embedded if no URL) and one replica
    (``dev``: ``convexpy dev``, reloading the functions folder when it changes)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_instance_secret(settings.data_dir, settings.instance_secret)
    async with AsyncExitStack() as stack:
        prepared = await prepare_database(settings, stack)
        await run_replica(settings, prepared.dsn, embedded=prepared.embedded, dev=dev)
