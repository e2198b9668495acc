"""Which tables and indexes exist, and how a document maps to its index keys.

Every table has two system indexes, ``by_id`` (key: the internal id) and
``by_creation_time`` (key: ``_creationTime``, internal id). A user index on
fields ``(a, b)`` has key ``(a, b, _creationTime, internal id)``; the trailing
id makes every key unique, and ``_creationTime`` is the tie-break order Convex
documents for equal field values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..values import sortkey

BY_ID = "by_id"
BY_CREATION_TIME = "by_creation_time"

SYSTEM_TABLES: dict[str, int] = {
    "_scheduled_functions": 1,
    "_storage": 2,
    "_cron_jobs": 3,
    "_environment_variables": 4,
    "_modules": 5,
}
"""The platform's own tables, at reserved numbers below every user table's (user tables start at
10001). Functions read them through ``ctx.db.system``; only the host writes them."""


def is_system_table(name: str) -> bool:
    return name in SYSTEM_TABLES


@dataclass(frozen=True, slots=True)
class Index:
    id: int
    table_number: int
    name: str
    fields: tuple[str, ...]
    """The ordering fields, ``_creationTime`` included (empty for ``by_id``)."""

    def key(self, document: dict[str, Any], internal_id: bytes) -> bytes:
        """This index's key for ``document``."""
        if not self.fields:
            return internal_id
        return sortkey.encode_tuple([field_value(document, path) for path in self.fields]) + internal_id


def field_value(document: dict[str, Any], path: str) -> Any:
    """The value at a dotted field path, or :data:`sortkey.MISSING`."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return sortkey.MISSING
        value = value[part]
    return value


@dataclass(slots=True)
class Table:
    number: int
    name: str
    indexes: dict[str, Index] = field(default_factory=dict)
    """The indexes queries may use, by name."""
    building: dict[int, Index] = field(default_factory=dict)
    """Indexes being backfilled, by id: every write maintains them, no query reads them yet."""

    def maintained(self) -> list[Index]:
        """Every index a write to this table must keep up to date."""
        if not self.building:
            return list(self.indexes.values())
        return [*self.indexes.values(), *self.building.values()]

    @property
    def by_id(self) -> Index:
        return self.indexes[BY_ID]

    @property
    def by_creation_time(self) -> Index:
        return self.indexes[BY_CREATION_TIME]


class Catalog:
    """An in-memory copy of ``cx_tables`` and ``cx_index_defs``."""

    def __init__(self) -> None:
        self.by_name: dict[str, Table] = {}
        self.by_number: dict[int, Table] = {}
        self.indexes: dict[int, Index] = {}
        """Every index by id, across tables."""

    def add_table(self, number: int, name: str) -> Table:
        table = self.by_number.get(number)
        if table is None:
            table = Table(number, name)
            self.by_name[name] = table
            self.by_number[number] = table
        return table

    def add_index(self, index_id: int, table_number: int, name: str, fields: list[str], *, ready: bool = True) -> Index:
        table = self.by_number[table_number]
        full_fields = tuple(fields)
        if name not in (BY_ID, BY_CREATION_TIME):
            full_fields = full_fields + ("_creationTime",)
        index = Index(index_id, table_number, name, full_fields)
        if ready:
            table.indexes[name] = index
            table.building.pop(index_id, None)
        else:
            table.building[index_id] = index
        self.indexes[index_id] = index
        return index

    def replace_indexes(self, rows: list[tuple[int, int, str, list[str], bool]]) -> None:
        """Make the indexes exactly ``rows`` (id, table number, name, fields, ready): the catalog as
        stored after a deployment change, dropped indexes gone."""
        for table in self.by_number.values():
            table.indexes = {}
            table.building = {}
        self.indexes = {}
        for index_id, table_number, name, fields, ready in rows:
            self.add_index(index_id, table_number, name, fields, ready=ready)

    def table_name(self, number: int) -> str | None:
        table = self.by_number.get(number)
        return table.name if table else None
