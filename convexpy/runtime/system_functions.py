"""convexpy's own system functions (``_system/...``): native, admin-only, run in the host.

The official CLI calls some of Convex's system functions over the sync socket;
these answer them with the reference shapes. They read the host's own state
(the catalog, PostgreSQL), so they run in the server process, never in a
runner, and their handlers get the query's transaction instead of a ``ctx``. (The admin surface issue adds the rest of ``_system/cli`` and
``_system/frontend``.)
"""

from __future__ import annotations

from typing import Any

from ..values.validators import v
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


def _native(function: ConvexFunction, path: str) -> tuple[FunctionPath, ConvexFunction]:
    function.native = True
    function.path = path
    module, _, name = path.partition(":")
    return FunctionPath(module, name), function


SYSTEM_FUNCTIONS: dict[FunctionPath, ConvexFunction] = dict([
    _native(table_size, "_system/cli/tableSize:default"),
])
