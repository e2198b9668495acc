"""convexpy's own system functions (``_system/...``): native, admin-only, run in the host.

The official CLI calls some of Convex's system functions over the sync socket;
these answer them with the reference shapes. They read the host's own state
(the catalog, PostgreSQL), so they run in the server process, never in a
runner, and their handlers get the query's transaction instead of a ``ctx``. (The admin surface issue adds the rest of ``_system/cli`` and
``_system/frontend``.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..values.validators import v
from . import environment
from .functions import ConvexFunction, internal_query
from .paths import FunctionPath


@internal_query(args={"tableName": v.string(), "componentId": v.optional(v.any())})
async def table_size(tx: Any, args: dict[str, Any]) -> float:
    """``_system/cli/tableSize:default``: the documents in a table (the CLI asks before a push
    drops one of its indexes, and prompts from 100,000)."""
    table = tx.db.catalog.by_name.get(args["tableName"])
    if table is None:
        return 0.0
    return float(await tx.db.persistence.count_live(table.by_id.id, tx.snapshot_ts))


@internal_query(args={})
async def environment_variables(tx: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """``_system/cli/queryEnvironmentVariables:default`` (``npx convex env list``) and the dashboard's
    ``_system/frontend/listEnvironmentVariables``: every variable's document, in name order."""
    return await environment.documents(tx)


@internal_query(args={"name": v.string()})
async def environment_variable(tx: Any, args: dict[str, Any]) -> dict[str, Any] | None:
    """``_system/cli/queryEnvironmentVariables:get`` (``npx convex env get NAME``): ``{name, value}`` or null."""
    for document in await environment.documents(tx):
        if document["name"] == args["name"]:
            return {"name": document["name"], "value": document["value"]}
    return None


def _native(function: ConvexFunction, path: str) -> tuple[FunctionPath, ConvexFunction]:
    module, _, name = path.partition(":")
    return FunctionPath(module, name), dataclasses.replace(function, native=True, path=path)  # one handler may serve two paths


SYSTEM_FUNCTIONS: dict[FunctionPath, ConvexFunction] = dict([
    _native(table_size, "_system/cli/tableSize:default"),
    _native(environment_variables, "_system/cli/queryEnvironmentVariables:default"),
    _native(environment_variable, "_system/cli/queryEnvironmentVariables:get"),
    _native(environment_variables, "_system/frontend/listEnvironmentVariables:default"),
])
