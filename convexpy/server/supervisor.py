"""``convexpy serve --workers N``: N replica processes on one machine, on the same ports.

The supervisor prepares the database once (embedded or configured), binds the
API and site ports, and starts N worker processes that inherit both listening
sockets: the kernel hands each new connection to one of them, so all cores
serve. Every worker is a full replica (committer, commit-log follower,
subscriptions) exactly like a pod of a Kubernetes Deployment; they agree
through PostgreSQL, not through the supervisor. A worker that dies is
restarted; SIGINT/SIGTERM stops them all, then the embedded database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import AsyncExitStack
from pathlib import Path

from ..runtime.auth import AdminKeys, load_instance_secret
from ..runtime.loader import load_functions
from ..settings import Settings
from . import eventloop
from .serve import PreparedDatabase, announce, configure_logging, prepare_database, run_replica

logger = logging.getLogger("convexpy")
WORKER_ENV = "CONVEXPY_WORKER"
"""Set for worker processes: JSON with the settings, the DSN and the inherited socket fds."""


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _spawn(payload: dict) -> subprocess.Popen:
    env = {**os.environ, WORKER_ENV: json.dumps(payload)}
    return subprocess.Popen([sys.executable, "-m", "convexpy", "worker"], env=env, pass_fds=tuple(payload["fds"]))


def _wait_until_serving(port: int, workers: list[subprocess.Popen], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(worker.poll() is not None for worker in workers):
            raise SystemExit("a worker exited while starting; see its output above")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise SystemExit("the workers did not start in time")


def supervise(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = AdminKeys(settings.instance_name, load_instance_secret(settings.data_dir, settings.instance_secret))
    functions = len(load_functions(settings.functions).functions)

    async def prepare(stack: AsyncExitStack) -> PreparedDatabase:
        return await prepare_database(settings, stack)

    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    try:
        prepared = loop.run_until_complete(prepare(stack))
        dsn = prepared.dsn
        api, site = _listen(settings.host, settings.port), _listen(settings.host, settings.site_port)
        payload = {
            "settings": {field.name: str(value) if isinstance(value, Path) else value
                         for field, value in ((f, getattr(settings, f.name)) for f in dataclasses.fields(settings))},
            "dsn": dsn,
            "fds": [api.fileno(), site.fileno()],
        }
        workers = [_spawn(payload) for _ in range(settings.workers)]
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        _wait_until_serving(settings.port, workers)
        announce(settings, keys, functions)
        while not stopping:
            time.sleep(0.2)
            if prepared.embedded is not None and not prepared.embedded.running():
                try:
                    prepared.embedded.ensure_running()  # the workers reconnect by themselves
                except Exception as exc:  # noqa: BLE001 - tried again on the next turn
                    logger.warning("could not start the embedded PostgreSQL again: %s", exc)
            for i, worker in enumerate(workers):
                if worker.poll() is not None and not stopping:
                    logger.warning("worker %d exited with %s; restarting it", worker.pid, worker.returncode)
                    workers[i] = _spawn(payload)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        api.close()
        site.close()
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


def run_worker() -> None:
    """The body of ``convexpy worker`` (started by :func:`supervise` only)."""
    payload = json.loads(os.environ[WORKER_ENV])
    values = payload["settings"]
    for name in ("functions", "data_dir"):
        values[name] = Path(values[name])
    settings = Settings(**values)
    sockets = tuple(socket.socket(fileno=fd) for fd in payload["fds"])
    configure_logging(settings.log_level)
    eventloop.run(run_replica(settings, payload["dsn"], sockets=sockets, quiet=True))  # type: ignore[arg-type]
