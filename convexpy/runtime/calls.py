"""Calls from outside: what the HTTP API and the sync socket share when a client calls a function.

A client's arguments arrive as encoded JSON and are decoded here, with every
bound checked before the work is done (one argument object, nesting at most
64); a refusal is a failed :class:`Outcome`, answered like any function error.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArgumentValidationError, ConvexpyError, FunctionError, RequestError, ValueTooNested
from ..settings import Settings
from ..values import json as cjson
from ..values.validators import render
from .auth import AdminKeys
from .executor import Executor, Outcome

_DEFAULTS = Settings.defaults()


@dataclass
class Deployment:
    """What the HTTP handlers and sync sessions need: the executor, the keys, and the deployment's settings."""

    executor: Executor
    keys: AdminKeys
    instance_name: str
    redact_logs: bool = False
    session_outbox_bytes: int = field(default_factory=lambda: int(_DEFAULTS.session_outbox_mb * 1024 * 1024))
    """Unsent messages kept per WebSocket session before the client is dropped (``--session-outbox-mb``)."""
    session_max_queries: int = field(default_factory=lambda: _DEFAULTS.session_max_queries)
    """Queries one WebSocket session may subscribe to at once (``--session-max-queries``)."""
    site_port: int = field(default_factory=lambda: _DEFAULTS.site_port)
    """The site port (HTTP actions), for the URLs the CLI asks for."""


def decode_args(raw: Any) -> list[Any]:
    """``args`` is an object (wrapped into a one-element list) or the legacy positional array.

    A function takes one argument object, so a longer array is refused before any of it is decoded
    (decoding five million elements only to refuse them would stall every other client).
    """
    args = raw if isinstance(raw, list) else [raw]
    if len(args) > 1:
        raise ArgumentValidationError(
            f"Expected to receive a single object as the function's argument. Instead received {len(args)} arguments: {render(args)}"
        )
    return [cjson.from_json(item) for item in args]


def decode_args_or_outcome(path: Any, raw: Any, too_nested: type[RequestError] | None = None) -> tuple[list[Any], Outcome | None]:
    """The decoded arguments, or the failed outcome that answers arguments that are not valid.

    With ``too_nested``, arguments nested past the limit are that request error instead (HTTP
    answers them 400 ``BadJsonBody``, like any body it cannot take).
    """
    try:
        return decode_args(raw), None
    except ValueTooNested as error:
        if too_nested is not None:
            raise too_nested(f"Invalid arguments for {path}: {error}", code="BadJsonBody") from None
        return [], Outcome(False, error_message=f"Invalid arguments for {path}: {error}\n", uses_identity=False)
    except FunctionError as error:
        return [], Outcome(False, error_message=error.message + "\n", uses_identity=False)
    except ConvexpyError as exc:
        return [], Outcome(False, error_message=f"Invalid arguments for {path}: {exc}\n", uses_identity=False)


def new_request_id() -> str:
    """A request id as the backend makes them: 16 lowercase hex characters (an id, not a secret,
    so no system call for entropy on every request)."""
    return f"{random.getrandbits(64):016x}"
