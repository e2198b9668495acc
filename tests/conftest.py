"""Fixtures shared by every test: a real PostgreSQL server and fresh databases on it.

By default the tests start the same embedded PostgreSQL that ``convexpy serve``
uses. With ``CONVEXPY_TEST_DATABASE_URL`` set (e.g.
``postgresql://postgres@127.0.0.1:5432/postgres``) they use that server instead;
``.ci/run`` runs the storage and database tests both ways.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from convexpy.storage.embedded import EmbeddedPostgres


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory):
    """A URL of a PostgreSQL server's maintenance database (``postgres``)."""
    given = os.environ.get("CONVEXPY_TEST_DATABASE_URL")
    if given:
        yield given
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-pg"))
    url = embedded.start()
    yield url
    embedded.stop()


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def create_database(server_url: str, prefix: str) -> str:
    """Create a new, empty database on the server; returns its DSN."""
    name = prefix + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return with_database(server_url, name)


@pytest.fixture
async def fresh_database(pg_server_url: str):
    """A DSN of a new, empty database, dropped after the test."""
    dsn = await create_database(pg_server_url, "cxtest_")
    name = urlsplit(dsn).path.lstrip("/")
    yield dsn
    admin = await asyncpg.connect(pg_server_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


REPO_ROOT = Path(__file__).resolve().parent.parent


HANG_DUMP_S = 60.0


def _dump_tasks(test_id: str) -> None:
    print(f"\n=== {test_id} still running after {HANG_DUMP_S:g} s; asyncio tasks:", file=sys.stderr)
    for task in asyncio.all_tasks():
        print(f"--- {task!r}", file=sys.stderr)
        task.print_stack(file=sys.stderr)


@pytest.fixture
async def hang_watchdog(request):
    """Dump every asyncio task's stack if the test is still running after a minute."""
    handle = asyncio.get_running_loop().call_later(HANG_DUMP_S, _dump_tasks, request.node.nodeid)
    yield
    handle.cancel()
