"""The function decorators users write: ``@query``, ``@mutation``, ``@action`` and internal variants.

Each decorator wraps an ``async def handler(ctx, args)`` in a
:class:`ConvexFunction` that records its kind, visibility and validators. The
loader finds these objects in modules and registers them under
``module:name`` paths. Decorators work bare (``@query``) or called
(``@query(args={...}, returns=...)``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping

from ..values.validators import Validator, as_validator


class FunctionKind(str, Enum):
    QUERY = "Query"
    MUTATION = "Mutation"
    ACTION = "Action"
    HTTP_ACTION = "HttpAction"


@dataclass(frozen=True)
class JsExport:
    """Where a pushed JavaScript function lives: its module, export name and push."""

    module: str
    name: str
    push: str
    environment: str = "isolate"
    """``isolate`` (V8, in a runner) or ``node`` (a "use node" module's action, in a Node.js runner)."""


@dataclass
class ConvexFunction:
    handler: Callable[..., Any]
    kind: FunctionKind
    public: bool
    args: Validator | None
    returns: Validator | None
    path: str | None = None
    """``module:name``, set when the loader registers the function."""
    js: JsExport | None = None
    """Set for a pushed JavaScript function (run in V8 by a runner; ``handler`` is None)."""
    native: bool = False
    """convexpy's own system functions (``runtime/system_functions.py``): run in the host, never in a runner."""

    async def __call__(self, ctx: Any, args: Any = None) -> Any:
        return await self.handler(ctx, {} if args is None else args)


def _decorator(kind: FunctionKind, public: bool) -> Callable[..., Any]:
    def decorate(
        handler: Callable[..., Any] | None = None,
        *,
        args: Validator | Mapping[str, Validator] | None = None,
        returns: Validator | None = None,
    ) -> Any:
        def wrap(fn: Callable[..., Any]) -> ConvexFunction:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"{fn.__qualname__} must be an async function: `async def {fn.__name__}(ctx, args)`")
            return ConvexFunction(fn, kind, public, as_validator(args), returns)

        if handler is not None:
            return wrap(handler)
        return wrap

    return decorate


query = _decorator(FunctionKind.QUERY, True)
mutation = _decorator(FunctionKind.MUTATION, True)
action = _decorator(FunctionKind.ACTION, True)
internal_query = _decorator(FunctionKind.QUERY, False)
internal_mutation = _decorator(FunctionKind.MUTATION, False)
internal_action = _decorator(FunctionKind.ACTION, False)
