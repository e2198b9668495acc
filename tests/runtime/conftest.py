"""The runtime's tests run functions' syscalls against a real database with one messages table."""

from __future__ import annotations

import pytest

from convexpy import define_schema, define_table, v
from convexpy.database import Database


@pytest.fixture
async def messages_db(fresh_database):
    """A database whose schema has ``messages`` (channel, n, optional note) indexed ``by_channel``."""
    database = await Database.open(fresh_database, pool_size=4, follow=False)
    await database.schemas.push(define_schema({
        "messages": define_table({"channel": v.string(), "n": v.number(), "note": v.optional(v.string())})
        .index("by_channel", ["channel", "n"]),
    }))
    yield database
    await database.close()
