"""Node.js runners for the actions of ``"use node"`` modules, as Convex runs them in its Node executor.

Each runner is a ``node`` process running ``node_runner.mjs`` on one end of a
socket pair; the host's end is a :class:`~convexpy.runtime.pool.Runner` like a
Python runner's, so a :class:`~convexpy.runtime.pool.RunnerPool` with a
:class:`NodeSpawner` serves them: the same frames, the same syscalls, answered
by the same host code. Node counts no CPU time for us, so its limit is
wall-clock time outside syscalls, as Convex limits Node actions.

The process gets a clean environment: the server's own (its database URL, its
instance secret) is never visible to user code.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from importlib import resources
from pathlib import Path

from ..channel import HostChannel
from ..pool import Runner

RUNNER_SCRIPT = Path(str(resources.files(__package__).joinpath("node_runner.mjs")))
NICENESS = 10
"""As the Python runners: user code yields the CPU to the server."""


def find_node(setting: str) -> str | None:
    """The ``node`` binary to run "use node" actions with: ``setting`` (a path, or ``off``), else
    the one on ``PATH``; None when there is none (such pushes are refused)."""
    if setting.strip().lower() in ("off", "none", "0"):
        return None
    if setting:
        return setting if os.access(setting, os.X_OK) else shutil.which(setting)
    return shutil.which("node")


class NodeSpawner:
    """Starts one ``node`` process per runner (Node has no fork; a start costs about 50 ms)."""

    def __init__(self, node: str, memory_mb: int):
        self.node = node
        self.memory_mb = memory_mb
        self._processes: dict[int, asyncio.subprocess.Process] = {}

    async def start(self) -> None:
        """Nothing to start ahead: runners are made on the first "use node" call."""

    async def fork(self) -> Runner:
        ours, theirs = socket.socketpair()
        flags = [f"--max-old-space-size={self.memory_mb}"] if self.memory_mb > 0 else []
        try:
            process = await asyncio.create_subprocess_exec(
                self.node, *flags, str(RUNNER_SCRIPT), str(theirs.fileno()), pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL, stdout=sys.stderr.fileno(), env=_clean_environment(),
            )
        finally:
            theirs.close()
        try:
            os.setpriority(os.PRIO_PROCESS, process.pid, NICENESS)
        except OSError:
            pass
        self._processes[process.pid] = process
        process_done = asyncio.ensure_future(process.wait())
        process_done.add_done_callback(lambda _: self._processes.pop(process.pid, None))
        return Runner(process.pid, await HostChannel.connect(ours), wall_clock=True)

    async def restart(self) -> None:
        """Nothing to restart: each runner loads the push it is asked for."""

    async def stop(self) -> None:
        for process in list(self._processes.values()):
            if process.returncode is None:
                process.kill()
                await process.wait()
        self._processes.clear()


def _clean_environment() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    environment["NODE_ENV"] = "production"
    return environment
