"""The ``ctx`` objects handed to functions: ``ctx.db``, ``ctx.auth``, and for actions ``ctx.run_*``.

Queries get a read-only ``ctx.db``; mutations a writer. Both wrap one
:class:`~convexpy.database.Transaction`. Errors raised here are
:class:`~convexpy.errors.InvalidValueError` with the reference backend's
wording, and reach the client as ``Uncaught Error: ...`` unless caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..database.catalog import SYSTEM_TABLES, Table, is_system_table
from ..database.transaction import Transaction
from ..errors import InvalidValueError
from ..values.ids import DocumentId, try_decode
from ..values.model import check_field_name, normalize
from . import environment
from .functions import FunctionKind
from .query import Query
from .scheduler import ScheduleBudget
from .scheduler_client import SchedulerClient

if TYPE_CHECKING:
    from .executor import Executor, Identity

_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
SYSTEM_FIELDS = ("_id", "_creationTime")


def _check_user_fields(fields: Any, what: str) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise InvalidValueError(f"{what} must be an object (a dict), got {type(fields).__name__}")
    for name in fields:
        check_field_name(name)
        if name.startswith("_") and name not in SYSTEM_FIELDS:
            raise InvalidValueError(f"Field '{name}' starts with an underscore, which is only allowed for system fields like '_id'")
    return normalize(fields)


class DatabaseReader:
    """``ctx.db`` of a query. With ``system``, ``ctx.db.system``: the platform's tables only."""

    def __init__(self, tx: Transaction, *, system: bool = False):
        self._tx = tx
        self._system = system

    @property
    def _catalog(self):
        return self._tx.db.catalog

    @property
    def system(self) -> "DatabaseReader":
        """The system tables (``_storage``, ``_scheduled_functions``, ...), read-only."""
        return DatabaseReader(self._tx, system=True)

    def _table_of(self, doc_id: Any, operation: str, table_name: str | None = None) -> tuple[Table | None, DocumentId]:
        decoded = try_decode(doc_id)
        if decoded is None:
            raise InvalidValueError(f"Invalid argument `id` for `db.{operation}`: {doc_id!r} is not a valid document ID")
        table = self._catalog.by_number.get(decoded.table_number)
        if table_name is not None and (table is None or table.name != table_name):
            raise InvalidValueError(f"Invalid argument `id` for `db.{operation}`: ID {doc_id} does not belong to table \"{table_name}\"")
        if table is not None and is_system_table(table.name) != self._system:
            if self._system:
                raise InvalidValueError(f"ID {doc_id} is in the user table \"{table.name}\": use db.{operation}(), not db.system.{operation}()")
            if operation != "get":
                raise InvalidValueError(f"ID {doc_id} is in the system table \"{table.name}\", which functions cannot change")
            raise InvalidValueError(f"ID {doc_id} is in the system table \"{table.name}\": read it with db.system.get()")
        return table, decoded

    @staticmethod
    def _split(args: tuple[Any, ...], operation: str) -> tuple[str | None, Any, tuple[Any, ...]]:
        """Accept both ``op(id, ...)`` and the newer ``op(table, id, ...)`` forms."""
        if len(args) >= 2 and isinstance(args[0], str) and try_decode(args[0]) is None and try_decode(args[1]) is not None:
            return args[0], args[1], args[2:]
        if not args:
            raise InvalidValueError(f"db.{operation} needs a document ID")
        return None, args[0], args[1:]

    async def get(self, *args: Any) -> dict[str, Any] | None:
        """``get(id)`` or ``get(table, id)``: the document, or None if it does not exist."""
        table_name, doc_id, _ = self._split(args, "get")
        table, decoded = self._table_of(doc_id, "get", table_name)
        if table is None:
            return None
        return await self._tx.get(table, decoded.internal_id)

    def query(self, table: str) -> Query:
        if self._system:
            if not isinstance(table, str) or not is_system_table(table):
                raise InvalidValueError(f"{table!r} is not a system table; system tables: {', '.join(SYSTEM_TABLES)}")
        elif not isinstance(table, str) or not _TABLE_NAME.match(table):
            raise InvalidValueError(f"Invalid table name: {table!r}")
        return Query(self._tx, self._catalog.by_name.get(table), table)

    def normalize_id(self, table: str, doc_id: Any) -> str | None:
        """The canonical id if ``doc_id`` is an id of ``table``, else None."""
        decoded = try_decode(doc_id)
        known = self._catalog.by_name.get(table)
        if decoded is None or known is None or decoded.table_number != known.number:
            return None
        return decoded.encode()

    normalizeId = normalize_id

    def __getattr__(self, name: str) -> Any:
        if name in ("insert", "patch", "replace", "delete"):
            raise InvalidValueError(f"db.{name}() is not available here: this function is a query, and queries cannot write to the database. Use a mutation.")
        raise AttributeError(name)


class DatabaseWriter(DatabaseReader):
    async def insert(self, table: str, document: dict[str, Any]) -> str:
        """Insert ``document`` into ``table``; returns the new document's id."""
        if not isinstance(table, str) or not _TABLE_NAME.match(table):
            raise InvalidValueError(f"Invalid table name: {table!r}. Table names must be identifiers not starting with an underscore.")
        fields = _check_user_fields(document, "The document to insert")
        for name in SYSTEM_FIELDS:
            if name in fields:
                raise InvalidValueError(f"Provided document contains the system field `{name}`, which is set automatically.")
        table_entry = await self._tx.db.ensure_table(table)
        return await self._tx.insert(table_entry, fields)

    async def _existing(self, args: tuple[Any, ...], operation: str) -> tuple[Table, DocumentId, dict[str, Any], tuple[Any, ...]]:
        table_name, doc_id, rest = self._split(args, operation)
        table, decoded = self._table_of(doc_id, operation, table_name)
        current = None if table is None else await self._tx.get(table, decoded.internal_id)
        if table is None or current is None:
            raise InvalidValueError(f"{'Update' if operation != 'delete' else 'Delete'} on nonexistent document ID {doc_id}")
        return table, decoded, current, rest

    @staticmethod
    def _check_system_fields(current: dict[str, Any], fields: dict[str, Any]) -> None:
        for name in SYSTEM_FIELDS:
            if name in fields and fields[name] != current[name]:
                raise InvalidValueError(f"Provided `{name}` field does not match the document's; system fields cannot be changed.")

    async def patch(self, *args: Any) -> None:
        """``patch(id, fields)``: shallow-merge ``fields`` into the document."""
        table, decoded, current, rest = await self._existing(args, "patch")
        if len(rest) != 1:
            raise InvalidValueError("db.patch takes an ID and an object of fields")
        await self._merge(table, decoded, current, rest[0], ())

    async def merge(self, doc_id: Any, fields: Any, removed: tuple[str, ...] | list[str] = ()) -> None:
        """Shallow-merge ``fields`` into the document and drop the ``removed`` fields (``1.0/shallowMerge``)."""
        table, decoded, current, _ = await self._existing((doc_id,), "patch")
        await self._merge(table, decoded, current, fields, removed)

    async def _merge(self, table: Table, decoded: DocumentId, current: dict[str, Any], fields: Any, removed: Any) -> None:
        fields = _check_user_fields(fields, "The patch")
        self._check_system_fields(current, fields)
        for name in removed:
            if name in SYSTEM_FIELDS:
                raise InvalidValueError(f"Provided `{name}` field cannot be removed; system fields cannot be changed.")
        merged = {name: value for name, value in current.items() if name not in removed}
        await self._tx.replace(table, decoded.internal_id, {**merged, **fields})

    async def replace(self, *args: Any) -> None:
        """``replace(id, document)``: the document becomes exactly ``document`` (system fields kept)."""
        table, decoded, current, rest = await self._existing(args, "replace")
        if len(rest) != 1:
            raise InvalidValueError("db.replace takes an ID and the new document")
        fields = _check_user_fields(rest[0], "The replacement document")
        self._check_system_fields(current, fields)
        document = {"_id": current["_id"], "_creationTime": current["_creationTime"]}
        document.update((name, value) for name, value in fields.items() if name not in SYSTEM_FIELDS)
        await self._tx.replace(table, decoded.internal_id, document)

    async def delete(self, *args: Any) -> None:
        table, decoded, _, _ = await self._existing(args, "delete")
        await self._tx.delete(table, decoded.internal_id)


@dataclass
class Auth:
    identity: "Identity"
    used: bool = False
    """Whether the function looked at the identity; results that did not can be shared between callers."""

    async def get_user_identity(self) -> dict[str, Any] | None:
        """The caller's user identity (an acting-as identity for admins), or None."""
        self.used = True
        return self.identity.user

    getUserIdentity = get_user_identity


class Env:
    """``ctx.env``: the deployment's environment variables (``npx convex env set``), never the
    server's own. In queries and mutations a read is part of the transaction: a change re-runs the
    subscribed queries that read a variable. In actions each read sees the latest values."""

    def __init__(self, tx: Transaction | None, built_in: dict[str, str], begin: Any = None):
        self._tx = tx
        self._built_in = built_in
        self._begin = begin

    async def get(self, name: str, default: str | None = None) -> str | None:
        """The variable ``name``'s value (``default`` if it is not set)."""
        tx = self._tx if self._tx is not None else self._begin()
        value = await environment.lookup(tx, name, self._built_in)
        return default if value is None else value


class QueryCtx:
    def __init__(self, tx: Transaction, identity: "Identity", built_in_env: dict[str, str] | None = None):
        self.db = DatabaseReader(tx)
        self.auth = Auth(identity)
        self.env = Env(tx, built_in_env or {})


class MutationCtx:
    def __init__(self, tx: Transaction, identity: "Identity", built_in_env: dict[str, str] | None = None, jobs: Any = None):
        self.db = DatabaseWriter(tx)
        self.auth = Auth(identity)
        self.env = Env(tx, built_in_env or {})
        if jobs is not None:
            budget = ScheduleBudget()
            self.scheduler = SchedulerClient(lambda op, args: jobs.syscall(tx, budget, op, args), in_action=False)


class ActionCtx:
    """Actions do not touch the database directly; they call queries and mutations."""

    def __init__(self, executor: "Executor", identity: "Identity", log_lines: list[str], depth: int):
        self._executor = executor
        self._identity = identity
        self._log_lines = log_lines
        self._depth = depth
        self.auth = Auth(identity)
        self.env = Env(None, executor.built_in_env, lambda: executor.db.begin(writable=False))
        self.scheduler = SchedulerClient(lambda op, args: executor.scheduled.syscall(None, None, op, args), in_action=True)

    async def _run(self, function: Any, args: Any, kind: Any) -> Any:
        return await self._executor.run_nested(function, args, kind, self._identity, self._log_lines, self._depth)

    async def run_query(self, function: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._run(function, args, FunctionKind.QUERY)

    async def run_mutation(self, function: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._run(function, args, FunctionKind.MUTATION)

    async def run_action(self, function: Any, args: dict[str, Any] | None = None) -> Any:
        return await self._run(function, args, FunctionKind.ACTION)

    runQuery = run_query
    runMutation = run_mutation
    runAction = run_action
