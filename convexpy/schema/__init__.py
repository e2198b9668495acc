"""Schema definitions: ``define_schema``, ``define_table`` and indexes.

A schema is optional. When ``functions/schema.py`` defines one, every write is
checked against its table's document validator, and its indexes are created
(and backfilled) when the server starts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import orjson

from ..errors import SchemaError
from ..values.validators import ValidationFailure, Validator, as_validator, validator_from_json

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_INDEXES_PER_TABLE = 32
MAX_FIELDS_PER_INDEX = 16
RESERVED_INDEX_NAMES = ("by_id", "by_creation_time")


@dataclass(frozen=True)
class IndexDefinition:
    """An index: its name and the document fields it orders by (``_creationTime`` is appended)."""

    name: str
    fields: tuple[str, ...]


@dataclass
class TableDefinition:
    """A table's document validator and indexes. Build with :func:`define_table`."""

    validator: Validator | None
    indexes: list[IndexDefinition] = field(default_factory=list)
    search_indexes: list[dict[str, Any]] = field(default_factory=list)
    """Search and vector index definitions as a push declares them (``searchIndexDescriptor``, ...):
    stored and kept across pushes, not built; queries on them get a clear "not supported" error."""
    vector_indexes: list[dict[str, Any]] = field(default_factory=list)

    def index(self, name: str, fields: list[str]) -> "TableDefinition":
        """Add an index ordered by ``fields``; returns the table for chaining."""
        if not _IDENTIFIER.match(name) or name in RESERVED_INDEX_NAMES or name.startswith("_"):
            raise SchemaError(f"Invalid index name: {name!r}. Index names must be identifiers and not reserved ({', '.join(RESERVED_INDEX_NAMES)}).")
        if any(existing.name == name for existing in self.indexes):
            raise SchemaError(f"Duplicate index name {name!r}")
        if not fields:
            raise SchemaError(f"Index {name!r} must have at least one field")
        if len(fields) > MAX_FIELDS_PER_INDEX:
            raise SchemaError(f"Index {name!r} has too many fields ({len(fields)} > {MAX_FIELDS_PER_INDEX})")
        if len(set(fields)) != len(fields):
            raise SchemaError(f"Index {name!r} has duplicate fields")
        for field_path in fields:
            if field_path in ("_id", "_creationTime"):
                raise SchemaError(
                    f"Index {name!r} cannot include {field_path!r}: `_creationTime` is appended to every index automatically"
                )
        if len(self.indexes) >= MAX_INDEXES_PER_TABLE:
            raise SchemaError(f"Too many indexes (> {MAX_INDEXES_PER_TABLE})")
        self.indexes.append(IndexDefinition(name, tuple(fields)))
        return self


def define_table(document: Validator | Mapping[str, Validator] | None = None) -> TableDefinition:
    """A table whose documents match ``document`` (a ``v.object`` or a dict of validators)."""
    return TableDefinition(as_validator(document))


@dataclass
class SchemaDefinition:
    tables: dict[str, TableDefinition]
    schema_validation: bool = True

    def mismatch(self, table: str, document: dict[str, Any], tables_by_number: Any = None) -> str | None:
        """Why ``document`` (system fields included) does not match its table, or None if it does."""
        definition = self.tables.get(table)
        if definition is None or definition.validator is None or not self.schema_validation:
            return None
        body = {key: value for key, value in document.items() if key not in ("_id", "_creationTime")}
        try:
            definition.validator.check(body, tables_by_number)
        except ValidationFailure as failure:
            return str(failure)
        return None

    def to_json(self) -> dict[str, Any]:
        """Convex's schema JSON (the shape ``npx convex deploy`` pushes), tables in name order."""
        return {
            "tables": [
                {
                    "tableName": name,
                    "indexes": [{"indexDescriptor": index.name, "fields": list(index.fields)} for index in table.indexes],
                    "searchIndexes": table.search_indexes,
                    "vectorIndexes": table.vector_indexes,
                    "documentType": table.validator.to_json() if table.validator is not None else {"type": "any"},
                }
                for name, table in sorted(self.tables.items())
            ],
            "schemaValidation": self.schema_validation,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SchemaDefinition":
        """The schema of :meth:`to_json` (also what a TypeScript deploy sends)."""
        tables: dict[str, TableDefinition] = {}
        try:
            for entry in data["tables"]:
                document_type = entry.get("documentType")
                validator = None if document_type in (None, {"type": "any"}) else validator_from_json(document_type)
                table = TableDefinition(validator)
                for index in entry.get("indexes", []):
                    table.index(index["indexDescriptor"], list(index["fields"]))
                table.search_indexes = [dict(index) for index in entry.get("searchIndexes") or []]
                table.vector_indexes = [dict(index) for index in entry.get("vectorIndexes") or []]
                tables[entry["tableName"]] = table
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"Invalid schema JSON: {exc}") from None
        return define_schema(tables, schema_validation=bool(data.get("schemaValidation", True)))

    def fingerprint(self) -> str:
        """Equal for equal schemas (tables, validators, indexes, validation switch)."""
        return hashlib.sha256(orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS)).hexdigest()

    def validate_write(self, table: str, document: dict[str, Any], tables_by_number: Any = None) -> None:
        """Raise :class:`SchemaError` if a document being written does not match the schema."""
        problem = self.mismatch(table, document, tables_by_number)
        if problem is not None:
            raise SchemaError(
                f'Failed to insert or update a document in table "{table}" because it does not match the schema: {problem}'
            )


def define_schema(tables: Mapping[str, TableDefinition], *, schema_validation: bool = True) -> SchemaDefinition:
    """The deployment's schema: table name -> :func:`define_table`."""
    for name, table in tables.items():
        if not _IDENTIFIER.match(name):
            raise SchemaError(f"Invalid table name: {name!r}. Table names must be identifiers of at most 64 characters.")
        if not isinstance(table, TableDefinition):
            raise SchemaError(f"Table {name!r} must be a define_table(...) value")
    return SchemaDefinition(dict(tables), schema_validation)


__all__ = ["IndexDefinition", "TableDefinition", "SchemaDefinition", "define_table", "define_schema"]
