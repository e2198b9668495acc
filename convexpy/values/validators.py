"""Argument and schema validators: the ``v`` namespace.

``v.string()``, ``v.id("table")``, ``v.object({...})`` and friends. The same
validators check function arguments, return values and documents against the
schema. Failure messages follow the reference backend word for word, because
users grep for them and tests pin them::

    Value does not match validator.
    Path: .sid
    Value: 123
    Validator: v.string()
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .display import js_scalar
from .ids import try_decode
from .model import Int64, type_name

TableLookup = Callable[[int], "str | None"]
"""Maps a table number to its table name (None if no such table)."""


class ValidationFailure(Exception):
    """A value does not match a validator; ``str()`` is the reference backend's message."""


def _context(path: str) -> str:
    return f"Path: {path}" if path else ""


RENDER_LIMIT = 1000
"""Characters of a value shown in a message: a huge argument must not become a huge error."""


def render(value: Any, limit: int = RENDER_LIMIT) -> str:
    """Render a value the way validation messages show it, cut after about ``limit`` characters."""
    parts: list[str] = []
    budget = [limit]

    def emit(text: str) -> bool:
        parts.append(text)
        budget[0] -= len(text)
        return budget[0] >= 0

    def walk(item: Any) -> bool:
        """False once the budget is spent (the caller stops)."""
        scalar = js_scalar(item)
        if scalar is not None:
            return emit(scalar)
        if isinstance(item, str):
            return emit('"' + item[: budget[0]].replace("\\", "\\\\").replace('"', '\\"') + '"')
        if isinstance(item, bytes):
            return emit(f"b{item[: budget[0]].hex()!r}")
        if isinstance(item, (list, dict)):
            opening, closing = ("[", "]") if isinstance(item, list) else ("{", "}")
            if not emit(opening):
                return False
            entries = item if isinstance(item, list) else item.items()
            for position, entry in enumerate(entries):
                if position and not emit(", "):
                    return False
                if isinstance(item, dict):
                    key, entry = entry
                    if not emit(f"{key}: "):
                        return False
                if not walk(entry):
                    return False
            return emit(closing)
        return emit(repr(item)[: max(budget[0], 0)])

    if walk(value):
        return "".join(parts)
    return "".join(parts)[:limit] + "..."


class Validator:
    """Base class. ``optional`` is only meaningful for object fields."""

    optional = False

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        raise NotImplementedError

    def _no_match(self, value: Any, path: str) -> ValidationFailure:
        context = _context(path)
        return ValidationFailure(f"Value does not match validator.\n{context}\nValue: {render(value)}\nValidator: {self}")

    def to_json(self) -> dict:
        raise NotImplementedError


class _Simple(Validator):
    name = ""
    json_type = ""

    def _accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        if not self._accepts(value):
            raise self._no_match(value, path)

    def __str__(self) -> str:
        return f"v.{self.name}()"

    def to_json(self) -> dict:
        return {"type": self.json_type}


class StringValidator(_Simple):
    name, json_type = "string", "string"

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, str)


class Float64Validator(_Simple):
    name, json_type = "float64", "number"

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, (float, int)) and not isinstance(value, (bool, Int64))


class Int64Validator(_Simple):
    name, json_type = "int64", "bigint"

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, Int64)


class BooleanValidator(_Simple):
    name, json_type = "boolean", "boolean"

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class NullValidator(_Simple):
    name, json_type = "null", "null"

    def _accepts(self, value: Any) -> bool:
        return value is None


class BytesValidator(_Simple):
    name, json_type = "bytes", "bytes"

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, bytes)


class AnyValidator(_Simple):
    name, json_type = "any", "any"

    def _accepts(self, value: Any) -> bool:
        return True


class IdValidator(Validator):
    def __init__(self, table: str):
        self.table = table

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        decoded = try_decode(value)
        found = tables(decoded.table_number) if decoded is not None and tables is not None else None
        if decoded is None or (tables is not None and found is None):
            raise self._no_match(value, path)
        if found is not None and found != self.table:
            context = _context(path)
            if found.startswith("_"):
                raise ValidationFailure(
                    f'Found ID "{value}" from a system table, which does not match the table name in validator `v.id("{self.table}")`.{context}'
                )
            raise ValidationFailure(
                f'Found ID "{value}" from table `{found}`, which does not match the table name in validator `v.id("{self.table}")`.{context}'
            )

    def __str__(self) -> str:
        return f'v.id("{self.table}")'

    def to_json(self) -> dict:
        return {"type": "id", "tableName": self.table}


class LiteralValidator(Validator):
    def __init__(self, value: Any):
        if not isinstance(value, (str, bool, float, int)):
            raise TypeError("v.literal() takes a string, number, boolean or Int64")
        self.value = float(value) if isinstance(value, int) and not isinstance(value, (bool, Int64)) else value

    def _equal(self, value: Any) -> bool:
        if type_name(value) != type_name(self.value):
            return False
        return value == self.value

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        if not self._equal(value):
            raise ValidationFailure(f"`{render(value)}` does not match literal validator `v.literal({render(self.value)})`.{_context(path)}")

    def __str__(self) -> str:
        return f"v.literal({render(self.value)})"

    def to_json(self) -> dict:
        from .json import to_json

        return {"type": "literal", "value": to_json(self.value)}


class ArrayValidator(Validator):
    def __init__(self, element: Validator):
        self.element = element

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        if not isinstance(value, list):
            raise self._no_match(value, path)
        for i, item in enumerate(value):
            self.element.check(item, tables, f"{path}[{i}]")

    def __str__(self) -> str:
        return f"v.array({self.element})"

    def to_json(self) -> dict:
        return {"type": "array", "value": self.element.to_json()}


class RecordValidator(Validator):
    def __init__(self, keys: Validator, values: Validator):
        self.keys = keys
        self.values = values

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        if not isinstance(value, dict):
            raise self._no_match(value, path)
        for key, item in value.items():
            self.keys.check(key, tables, path + ".keys()")
            self.values.check(item, tables, path + ".values()")

    def __str__(self) -> str:
        return f"v.record({self.keys}, {self.values})"

    def to_json(self) -> dict:
        return {"type": "record", "keys": self.keys.to_json(), "values": {"fieldType": self.values.to_json(), "optional": False}}


class OptionalValidator(Validator):
    """``v.optional(x)``: the field may be absent. Only valid as an object field."""

    optional = True

    def __init__(self, inner: Validator):
        self.inner = inner

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        self.inner.check(value, tables, path)

    def __str__(self) -> str:
        return f"v.optional({self.inner})"

    def to_json(self) -> dict:
        return self.inner.to_json()


class ObjectValidator(Validator):
    def __init__(self, fields: Mapping[str, Validator]):
        for name, field in fields.items():
            if not isinstance(field, Validator):
                raise TypeError(f"field {name!r} of v.object() must be a validator, got {field!r}")
        self.fields = dict(sorted(fields.items()))

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        if not isinstance(value, dict):
            raise self._no_match(value, path)
        for name, field in self.fields.items():
            if name in value:
                field.check(value[name], tables, f"{path}.{name}")
            elif not field.optional:
                raise ValidationFailure(
                    f"Object is missing the required field `{name}`. Consider wrapping the field validator in "
                    f"`v.optional(...)` if this is expected.\n{_context(path)}\nObject: {render(value)}\nValidator: {self}"
                )
        for name in value:
            if name not in self.fields:
                raise ValidationFailure(
                    f"Object contains extra field `{name}` that is not in the validator.\n{_context(path)}\n"
                    f"Object: {render(value)}\nValidator: {self}"
                )

    def __str__(self) -> str:
        return "v.object({" + ", ".join(f"{name}: {field}" for name, field in self.fields.items()) + "})"

    def to_json(self) -> dict:
        return {
            "type": "object",
            "value": {name: {"fieldType": field.to_json(), "optional": field.optional} for name, field in self.fields.items()},
        }


class UnionValidator(Validator):
    def __init__(self, members: list[Validator]):
        self.members = members

    def check(self, value: Any, tables: TableLookup | None = None, path: str = "") -> None:
        if len(self.members) == 1:
            self.members[0].check(value, tables, path)
            return
        for member in self.members:
            try:
                member.check(value, tables, path)
                return
            except ValidationFailure:
                continue
        raise self._no_match(value, path)

    def __str__(self) -> str:
        return "v.union(" + ", ".join(str(member) for member in self.members) + ")"

    def to_json(self) -> dict:
        return {"type": "union", "value": [member.to_json() for member in self.members]}


_SIMPLE_BY_JSON_TYPE: dict[str, type[_Simple]] = {
    cls.json_type: cls for cls in (StringValidator, Float64Validator, Int64Validator, BooleanValidator, NullValidator, BytesValidator, AnyValidator)
}


def validator_from_json(data: Any) -> Validator:
    """A validator from Convex's validator JSON (what :meth:`Validator.to_json` writes, and what
    ``npx convex deploy`` sends in a schema). Raises ``ValueError`` naming what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError(f"a validator must be an object with a `type`, got {data!r}"[:300])
    kind = data["type"]
    if kind in _SIMPLE_BY_JSON_TYPE:
        return _SIMPLE_BY_JSON_TYPE[kind]()
    if kind == "id":
        return IdValidator(data["tableName"])
    if kind == "literal":
        from .json import from_json

        return LiteralValidator(from_json(data["value"]))
    if kind == "array":
        return ArrayValidator(validator_from_json(data["value"]))
    if kind == "record":
        return RecordValidator(validator_from_json(data["keys"]), validator_from_json(data["values"]["fieldType"]))
    if kind == "union":
        return UnionValidator([validator_from_json(member) for member in data["value"]])
    if kind == "object":
        fields = {}
        for name, spec in data["value"].items():
            field = validator_from_json(spec["fieldType"])
            fields[name] = OptionalValidator(field) if spec.get("optional") else field
        return ObjectValidator(fields)
    raise ValueError(f"unknown validator type {kind!r}")


class _V:
    """The ``v`` namespace, as in ``convex/values``."""

    @staticmethod
    def string() -> Validator:
        return StringValidator()

    @staticmethod
    def number() -> Validator:
        return Float64Validator()

    float64 = number

    @staticmethod
    def int64() -> Validator:
        return Int64Validator()

    bigint = int64

    @staticmethod
    def boolean() -> Validator:
        return BooleanValidator()

    @staticmethod
    def null() -> Validator:
        return NullValidator()

    @staticmethod
    def bytes() -> Validator:
        return BytesValidator()

    @staticmethod
    def any() -> Validator:
        return AnyValidator()

    @staticmethod
    def id(table: str) -> Validator:
        return IdValidator(table)

    @staticmethod
    def literal(value: Any) -> Validator:
        return LiteralValidator(value)

    @staticmethod
    def array(element: Validator) -> Validator:
        return ArrayValidator(element)

    @staticmethod
    def record(keys: Validator, values: Validator) -> Validator:
        return RecordValidator(keys, values)

    @staticmethod
    def object(fields: Mapping[str, Validator]) -> Validator:
        return ObjectValidator(fields)

    @staticmethod
    def union(*members: Validator) -> Validator:
        return UnionValidator(list(members))

    @staticmethod
    def optional(inner: Validator) -> Validator:
        return OptionalValidator(inner)


v = _V()


def as_validator(spec: Validator | Mapping[str, Validator] | None) -> Validator | None:
    """``args={...}`` is shorthand for ``v.object({...})``."""
    if spec is None or isinstance(spec, Validator):
        return spec
    if isinstance(spec, Mapping):
        return ObjectValidator(spec)
    raise TypeError(f"expected a validator or a dict of validators, got {spec!r}")
