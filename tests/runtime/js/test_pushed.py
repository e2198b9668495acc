"""A push is deployment state: its modules and its schema go live in one commit, which every
replica applies whole, and the next push replaces it."""

from __future__ import annotations

from convexpy import define_schema, define_table, v
from convexpy.database import Database
from convexpy.runtime.js.pushed import PushedCode, PushedModule, module_hash
from convexpy.runtime.paths import FunctionPath
from convexpy.storage.postgres import DEPLOYMENT_KEY

GET = {"name": "get", "udfType": "Query", "visibility": {"kind": "public"},
       "args": '{"type":"object","value":{"sid":{"fieldType":{"type":"string"},"optional":false}}}', "returns": "null"}


def _module(path: str, functions: list[dict]) -> PushedModule:
    source = f"// {path}\n"
    return PushedModule(path, source, module_hash(source, None), functions=functions)


def _schema(*indexes: str):
    table = define_table({"sid": v.string(), "owner": v.string()})
    for name in indexes:
        table = table.index(name, [name.removeprefix("by_")])
    return define_schema({"services": table})


async def _commits_writing(database: Database, table_number: int) -> list[tuple[int, bool]]:
    """(ts, also a deployment change?) of each commit that wrote a table's documents."""
    from convexpy.storage.postgres import unpack_write_set

    rows = await database.persistence.pool.fetch("SELECT ts, writes FROM cx_commits ORDER BY ts")
    found = []
    for row in rows:
        writes = list(unpack_write_set(row["writes"]))
        indexes = {index.id for index in database.catalog.by_number[table_number].maintained()}
        if any(index_id in indexes for index_id, _ in writes):
            found.append((row["ts"], any(key == DEPLOYMENT_KEY for _, key in writes)))
    return found


async def test_code_and_a_schema_with_a_new_index_switch_in_one_commit(fresh_database):
    database = await Database.open(fresh_database, pool_size=4, follow=False)
    try:
        pushed = PushedCode(database)
        await pushed.replace([_module("services.js", [GET])], _schema("by_sid"))
        assert set(pushed.functions) == {FunctionPath("services", "get")}
        await pushed.replace([_module("services.js", [GET]), _module("owners.js", [{**GET, "name": "byOwner"}])],
                             _schema("by_sid", "by_owner"))
        assert set(pushed.functions) == {FunctionPath("services", "get"), FunctionPath("owners", "byOwner")}
        assert database.catalog.by_name["services"].indexes.keys() >= {"by_sid", "by_owner"}
        modules_table = database.catalog.by_name["_modules"].number
        # Both pushes wrote their modules in a deployment commit: the one that made their indexes ready.
        assert [deployment for _, deployment in await _commits_writing(database, modules_table)] == [True, True]

        await pushed.replace([_module("services.js", [GET])], None)  # no schema: the deployment's stays
        assert set(pushed.functions) == {FunctionPath("services", "get")}
        assert database.catalog.by_name["services"].indexes.keys() >= {"by_sid", "by_owner"}
    finally:
        await database.close()


async def test_another_replica_follows_a_push(fresh_database):
    first = await Database.open(fresh_database, pool_size=4)
    second = await Database.open(fresh_database, pool_size=4)
    try:
        theirs = PushedCode(second)
        await theirs.load()
        theirs.watch()
        await PushedCode(first).replace([_module("services.js", [GET])], _schema("by_sid"))
        await second.wait_for_ts(first.latest_ts)
        await theirs.refresh()
        assert set(theirs.functions) == {FunctionPath("services", "get")}
        assert "by_sid" in second.catalog.by_name["services"].indexes
    finally:
        await first.close()
        await second.close()


async def test_a_module_larger_than_a_document_is_stored_in_parts(fresh_database):
    database = await Database.open(fresh_database, pool_size=4, follow=False)
    try:
        big = "// " + "x" * (3 * 1024 * 1024) + "\n"  # with its map, 4.5 MiB: more than four documents' worth
        source_map = '{"version":3,"sources":[],"mappings":"' + "A" * (3 * 1024 * 1024 // 2) + '"}'
        module = PushedModule("big.js", big, module_hash(big, source_map), functions=[GET], source_map=source_map)
        await PushedCode(database).replace([module], None)
        loaded = PushedCode(database)
        await loaded.load()
        (only,) = loaded.modules
        assert only.source == big and only.source_map == source_map and only.functions == [GET]
    finally:
        await database.close()
