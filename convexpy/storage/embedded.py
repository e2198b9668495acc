"""The embedded PostgreSQL that ``convexpy serve`` starts when no database URL is given.

``pgserver`` ships PostgreSQL binaries on PyPI, so a bare laptop needs nothing
else. It is the same engine as production, so nothing behaves differently.
The server listens on a Unix socket inside the data folder only.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or attaches to) a PostgreSQL cluster in ``data_dir/postgres`` and stops it on :meth:`stop`."""

    def __init__(self, data_dir: Path):
        self.pgdata = (Path(data_dir) / "postgres").resolve()
        self._server = None

    def start(self) -> str:
        """Start the cluster and return a DSN for its ``postgres`` database."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        socket_dir = self._server.get_postmaster_info().socket_dir
        return f"postgresql://postgres@/postgres?host={quote(str(socket_dir))}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
