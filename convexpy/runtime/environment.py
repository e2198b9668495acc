"""Environment variables: deployment state in the ``_environment_variables`` system table.

Set with ``npx convex env set`` (``POST /api/update_environment_variables``) or
``convexpy env``; read by functions in either language (``process.env.NAME``,
``await ctx.env.get("NAME")``) through the ``environmentVariables/get``
syscall. A read goes through the function's transaction and records the whole
(small) table in its read set, so any change re-runs the subscribed queries
that read a variable and conflicts with mutations that did, on every replica,
by the commit log like any other write. Convex does the same (its docs allow
invalidating every reader on any change).

The server's own environment is never visible to user code: only these
variables, and the built-in ``CONVEX_CLOUD_URL`` / ``CONVEX_SITE_URL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..database.catalog import SYSTEM_TABLES
from ..database.readset import Interval
from ..errors import BadRequest, EnvironmentVariableError
from ..values.ids import DocumentId

TABLE = "_environment_variables"
NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
MAX_NAME_BYTES = 256
MAX_VALUE_BYTES = 8192
MAX_COUNT = 512
MAX_TOTAL_BYTES = 512 * 1024
"""The reference backend's limits: a name, a value, how many, and all names and values together."""
BUILT_IN = ("CONVEX_CLOUD_URL", "CONVEX_SITE_URL")


@dataclass(frozen=True)
class Change:
    name: str
    value: str | None
    """None removes the variable."""


def parse_changes(body: Any) -> list[Change]:
    """The ``changes`` of an update request, each checked as the reference backend checks it."""
    changes = body.get("changes") if isinstance(body, dict) else None
    if not isinstance(changes, list):
        raise BadRequest("Expected {\"changes\": [{\"name\": ..., \"value\": ... | null}, ...]}", code="BadJsonBody")
    parsed = []
    for entry in changes:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(entry.get("value"), (str, type(None))):
            raise BadRequest("Each change is {\"name\": string, \"value\": string | null}", code="BadJsonBody")
        parsed.append(Change(check_name(entry["name"]), check_value(entry["name"], entry["value"])))
    return parsed


def check_name(name: str) -> str:
    if len(name.encode()) > MAX_NAME_BYTES:
        raise EnvironmentVariableError(f"Environment variable name {name[:64]}... is too long (maximum {MAX_NAME_BYTES} bytes).",
                                       code="EnvironmentVariableNameTooLong")
    if not NAME.match(name):
        raise EnvironmentVariableError(f"Environment variable name {name!r} is invalid: it must begin with a letter and may only "
                                       "include characters a-z, A-Z, 0-9, and underscores.", code="EnvironmentVariableNameInvalid")
    if name in BUILT_IN:
        raise EnvironmentVariableError(f"Environment variable {name} is built-in and cannot be overridden.", code="EnvVarNameForbidden")
    return name


def check_value(name: str, value: str | None) -> str | None:
    if value is not None and len(value.encode()) > MAX_VALUE_BYTES:
        raise EnvironmentVariableError(f"The value of environment variable {name} is too large (maximum {MAX_VALUE_BYTES} bytes).",
                                       code="EnvironmentVariableValueTooLarge")
    return value


async def ensure_table(database: Any) -> None:
    """Create the table at start, on every replica: a query that finds no variable still reads
    (and so is re-run by) the table the first ``env set`` writes."""
    await database.ensure_table(TABLE, SYSTEM_TABLES[TABLE])


async def documents(tx: Any) -> list[dict[str, Any]]:
    """Every variable's document (``_id``, ``_creationTime``, ``name``, ``value``) in name order,
    read through ``tx`` (its read set then covers every variable)."""
    table = tx.db.catalog.by_name.get(TABLE)
    if table is None:
        return []
    found = tx.scan(table.by_id, Interval(b"", None))
    try:
        return sorted([document async for document in found], key=lambda document: document["name"])
    finally:
        found.close()


async def lookup(tx: Any, name: str, built_in: dict[str, str]) -> str | None:
    """A function's ``process.env.NAME``: the variable, else a built-in, else None."""
    for document in await documents(tx):
        if document["name"] == name:
            return document["value"]
    return built_in.get(name)


async def snapshot(database: Any, built_in: dict[str, str]) -> dict[str, str]:
    """Every variable and built-in at the latest commit: what modules see as they load in a push's
    analysis, and what a Node.js action gets as its ``process.env`` (Convex loads them at its start)."""
    values = dict(built_in)
    values.update((document["name"], document["value"]) for document in await documents(database.begin(writable=False)))
    return values


async def apply(database: Any, changes: Iterable[Change]) -> None:
    """Apply ``changes`` in one transaction, within the reference limits (count, total size)."""
    changes = list(changes)
    await ensure_table(database)

    async def body(tx: Any) -> None:
        table = database.catalog.by_name[TABLE]
        current = {document["name"]: document for document in await documents(tx)}
        values = {name: document["value"] for name, document in current.items()}
        for change in changes:
            if change.value is None:
                values.pop(change.name, None)
            else:
                values[change.name] = change.value
        if len(values) > MAX_COUNT:
            raise EnvironmentVariableError(f"A deployment may have at most {MAX_COUNT} environment variables.", code="EnvVarLimitMet")
        if sum(len(name.encode()) + len(value.encode()) for name, value in values.items()) > MAX_TOTAL_BYTES:
            raise EnvironmentVariableError(f"The environment variables' names and values may total at most {MAX_TOTAL_BYTES} bytes.",
                                           code="EnvVarTotalSizeLimitMet")
        for name, document in current.items():
            if values.get(name) != document["value"]:
                await tx.delete(table, DocumentId.decode(document["_id"]).internal_id)
        for name, value in values.items():
            if name not in current or current[name]["value"] != value:
                await tx.insert(table, {"name": name, "value": value})

    await database.run_mutation(body)
