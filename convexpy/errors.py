"""The closed set of errors a client can see.

Two families, because Convex answers them differently:

* :class:`SystemError` and subclasses: the request itself was bad or the server
  could not serve it. HTTP answers with a non-2xx status and the body
  ``{"code": ..., "message": ...}``.
* :class:`FunctionError` and subclasses: a function was called and failed
  (not found, bad arguments, raised). HTTP answers 200 with
  ``{"status": "error", "errorMessage": ...}``.

:class:`ConvexError` is what user code raises to send structured data to the
client; it travels as a function error with ``errorData``.
"""

from __future__ import annotations

from typing import Any


class ConvexpyError(Exception):
    """Base class of every error convexpy raises on purpose."""


# --- errors in user-visible values -------------------------------------------------


class InvalidValueError(ConvexpyError, ValueError):
    """A value is not a valid Convex value (type, field name, limits)."""


# --- system errors: non-2xx {code, message} ---------------------------------------


class SystemError(ConvexpyError):  # noqa: A001 - the name mirrors Convex's terminology
    """A request-level failure, answered with a status and a ``{code, message}`` body."""

    status = 500
    code = "InternalServerError"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class BadRequest(SystemError):
    status = 400
    code = "BadRequest"


class Unauthenticated(SystemError):
    status = 401
    code = "Unauthenticated"


class Forbidden(SystemError):
    status = 403
    code = "Forbidden"


class NotFound(SystemError):
    status = 404
    code = "NotFound"


class Overloaded(SystemError):
    """A transient failure: the client may retry (OCC exhaustion, lost database connection)."""

    status = 503
    code = "Overloaded"


# --- function errors: 200 {status: "error"} ---------------------------------------


class DatabaseUnavailable(Overloaded):
    """PostgreSQL could not be reached while reading. Nothing was written: safe to retry."""

    code = "DatabaseUnavailable"


class OutOfRetention(SystemError):
    """A read at a snapshot older than the retention window: those revisions may be gone."""

    status = 503
    code = "OutOfRetention"


class FunctionError(ConvexpyError):
    """A function-level failure. ``message`` is the text after ``Server Error\\n``."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ArgumentValidationError(FunctionError):
    def __init__(self, details: str):
        super().__init__(f"ArgumentValidationError: {details}")


class ReturnsValidationError(FunctionError):
    def __init__(self, details: str):
        super().__init__(f"ReturnsValidationError: {details}")


class ConvexError(Exception):
    """Raise this from a function to send ``data`` to the client as ``errorData``.

    The client sees a ``ConvexError`` carrying the same data. Any other
    exception reaches the client as a plain server error.
    """

    def __init__(self, data: Any = None):
        self.data = data
        super().__init__(data if isinstance(data, str) else repr(data))


class ConflictError(ConvexpyError):
    """A transaction read something that a concurrent commit changed; it must be retried."""


class SchemaError(ConvexpyError):
    """The schema is invalid, or stored documents do not match it."""
