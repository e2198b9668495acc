"""System tables: reserved numbers below every user table's, read through ``ctx.db.system``,
out of reach of ``ctx.db`` and of writes from functions."""

from __future__ import annotations

import pytest

from convexpy.database import Database
from convexpy.database.catalog import SYSTEM_TABLES
from convexpy.errors import InvalidValueError
from convexpy.runtime.context import DatabaseReader, DatabaseWriter


@pytest.fixture
async def db(fresh_database):
    database = await Database.open(fresh_database, pool_size=4, follow=False)
    yield database
    await database.close()


async def test_system_tables_exist_at_their_reserved_numbers_below_user_tables(db):
    for name, number in SYSTEM_TABLES.items():
        assert db.catalog.by_name[name].number == number
    assert (await db.ensure_table("messages")).number == 10001


async def test_system_documents_are_read_through_db_system_only(db):
    storage = db.catalog.by_name["_storage"]
    host_tx = db.begin(writable=True)  # the host writes system tables (file storage will)
    file_id = await host_tx.insert(storage, {"sha256": "abc=", "size": 3.0})
    await db.commit(host_tx)

    reader = DatabaseReader(db.begin(writable=False))
    assert (await reader.system.get(file_id))["size"] == 3.0
    assert [document["_id"] for document in await reader.system.query("_storage").collect()] == [file_id]
    with pytest.raises(InvalidValueError, match=r'is in the system table "_storage": read it with db.system.get\(\)'):
        await reader.get(file_id)
    with pytest.raises(InvalidValueError, match="Invalid table name: '_storage'"):
        reader.query("_storage")
    with pytest.raises(InvalidValueError, match="'messages' is not a system table"):
        reader.system.query("messages")

    writer = DatabaseWriter(db.begin(writable=True))
    with pytest.raises(InvalidValueError, match='is in the system table "_storage", which functions cannot change'):
        await writer.delete(file_id)
    with pytest.raises(InvalidValueError, match="Invalid table name"):
        await writer.insert("_storage", {"size": 1.0})
