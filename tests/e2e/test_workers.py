"""`convexpy serve --workers N`: N replicas on the same ports, supervised."""

from __future__ import annotations

import signal
import time
import uuid

import httpx
import psutil

from .conftest import FUNCTIONS, _start
from .wire import WireClient


def workers_of(server) -> list[psutil.Process]:
    """The supervisor's live worker processes (a killed one not yet reaped is a zombie: not counted)."""
    workers = []
    for child in psutil.Process(server.process.pid).children():
        try:
            if "worker" in " ".join(child.cmdline()):
                workers.append(child)
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return workers


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_workers_share_ports_and_are_restarted(fresh_database, tmp_path):
    server = _start(fresh_database, tmp_path / "data", FUNCTIONS, None, None, "--workers", "2")
    try:
        assert len(workers_of(server)) == 2
        channel = "w" + uuid.uuid4().hex[:8]
        watcher = WireClient(server.url)
        watcher.connect()
        watcher.modify(watcher.add(0, "messages:byRange", {"channel": channel}))
        watcher.recv_modification(0)
        for n in range(20):  # a new connection each time: the kernel spreads them over both workers
            response = httpx.post(server.url + "/api/mutation", headers={"connection": "close"},
                                  json={"path": "messages:send", "args": {"channel": channel, "body": "b", "n": n}})
            assert response.json()["status"] == "success"
        seen: list[float] = []
        while len(seen) < 20:
            seen = watcher.recv_modification(0, timeout=10)[1]["value"]
        assert seen == [float(n) for n in range(20)]
        watcher.close()

        victim = workers_of(server)[0]
        victim.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (_alive(victim) or len([w for w in workers_of(server) if w.pid != victim.pid]) < 2):
            time.sleep(0.2)
        assert len([w for w in workers_of(server) if w.pid != victim.pid]) == 2
        body = httpx.post(server.url + "/api/query", json={"path": "messages:byRange", "args": {"channel": channel}}).json()
        assert body["value"] == [float(n) for n in range(20)]
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
        server.process.stdout.close()
