"""The embedded PostgreSQL that ``convexpy serve`` starts when no database URL is given.

``pgserver`` ships PostgreSQL binaries on PyPI, so a bare laptop needs nothing
else. It is the same engine as production, so nothing behaves differently.
The server listens on a Unix socket inside the data folder only.

The server owns this PostgreSQL, so it also looks after it:

* pgserver counts the processes using a cluster in a handle file and stops the
  cluster when the last one leaves. A process killed with ``kill -9`` never
  leaves, so its pid would keep the cluster running after every later clean
  stop: dead pids are pruned before attaching.
* If PostgreSQL dies while the server runs, :meth:`EmbeddedPostgres.ensure_running`
  starts it again (the watchdog calls it); the pool and the follower reconnect.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)
HANDLE_FILE = ".handle_pids.json"
"""pgserver's list of the processes attached to a cluster (inside the cluster's folder)."""


def _pgserver():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        import pgserver.postgres_server

    return pgserver


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class EmbeddedPostgres:
    """Starts (or attaches to) a PostgreSQL cluster in ``data_dir/postgres`` and stops it on :meth:`stop`."""

    def __init__(self, data_dir: Path):
        self.pgdata = (Path(data_dir) / "postgres").resolve()
        self._server = None
        self.socket_dir: str | None = None

    def start(self) -> str:
        """Start the cluster and return a DSN for its ``postgres`` database."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgserver = _pgserver()
        with pgserver.postgres_server.PostgresServer._lock:
            self._prune_dead_handles()
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        self.socket_dir = str(self._server.get_postmaster_info().socket_dir)
        return f"postgresql://postgres@/postgres?host={quote(self.socket_dir)}"

    def _prune_dead_handles(self) -> None:
        handles = self.pgdata / HANDLE_FILE
        if not handles.exists():
            return
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            pids = []
        alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
        if alive != pids:
            logger.info("embedded PostgreSQL: forgetting %d process(es) that exited without detaching", len(pids) - len(alive))
            handles.write_text(json.dumps(alive))

    def running(self) -> bool:
        info = None if self._server is None else self._server.get_postmaster_info()
        return info is not None and info.is_running()

    def ensure_running(self) -> bool:
        """Start PostgreSQL again if it died. Returns False if it now listens somewhere else
        (its socket folder changed), which only a restart of this server can follow."""
        if self._server is None or self.running():
            return True
        pgserver = _pgserver()
        logger.warning("embedded PostgreSQL is not running; starting it again")
        with pgserver.postgres_server.PostgresServer._lock:
            self._server.ensure_postgres_running()
        return str(self._server.get_postmaster_info().socket_dir) == self.socket_dir

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
