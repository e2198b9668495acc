"""The closed set of errors a client can see, every one of them defined here.

Three families, because Convex answers them differently:

* :class:`RequestError` and subclasses: the request itself was bad or the
  server could not serve it. HTTP answers with a non-2xx status and the body
  ``{"code": ..., "message": ...}``; the socket closes or sends an error.
* :class:`FunctionError` and subclasses: a function was called and failed
  (not found, bad arguments, returned a bad value). HTTP answers 200 with
  ``{"status": "error", "errorMessage": ...}``.
* :class:`InvalidValueError` and subclasses: user code asked for something
  impossible (a bad value, query or id); it reaches the client as
  ``Uncaught Error: <message>`` unless the function catches it.

:class:`ConvexError` is what user code raises to send structured data to the
client; it travels as a function error with ``errorData``. :class:`ProtocolError`
ends a WebSocket session that broke the sync protocol.

Messages name what was wrong and where; ``tests/test_errors.py`` pins every
one of them.
"""

from __future__ import annotations

from typing import Any


class ConvexpyError(Exception):
    """Base class of every error convexpy raises on purpose."""


# --- request errors: non-2xx {code, message} --------------------------------------


class RequestError(ConvexpyError):
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


class BadRequest(RequestError):
    status = 400
    code = "BadRequest"


class EnvironmentVariableError(BadRequest):
    """An environment variable change the reference backend refuses (its error code: name invalid or
    too long, value too large, built-in, too many, too large in total)."""


class PayloadTooLarge(RequestError):
    status = 413
    code = "PayloadTooLarge"


class Unauthenticated(RequestError):
    status = 401
    code = "Unauthenticated"


class BadAdminKey(Unauthenticated):
    code = "BadAdminKey"


class Forbidden(RequestError):
    status = 403
    code = "Forbidden"


class NotFound(RequestError):
    status = 404
    code = "NotFound"


class Overloaded(RequestError):
    """A transient failure: the client may retry (OCC exhaustion, lost database connection)."""

    status = 503
    code = "Overloaded"


class DatabaseUnavailable(Overloaded):
    """PostgreSQL could not be reached while reading. Nothing was written: safe to retry."""

    code = "DatabaseUnavailable"


class CommitRefused(Overloaded):
    """PostgreSQL refused one transaction's rows (nothing of it was applied); the rest of its batch went on."""

    code = "CommitFailed"
    status = 500


class PushRefused(BadRequest):
    """A push (``npx convex deploy``) that cannot be taken; the CLI prints the message to its user."""

    code = "InvalidModules"


class DuplicateSessionRequest(BadRequest):
    """A WebSocket mutation re-used a ``(session, request id)`` pair whose outcome is already stored."""

    code = "DuplicateRequest"

    def __init__(self, session_id: str, request_id: int):
        super().__init__(
            f"Mutation request {request_id} of session {session_id} was already applied; request ids must not "
            "repeat within a session. Nothing was applied this time."
        )


class OutOfRetention(RequestError):
    """A read at a snapshot older than the retention window: those revisions may be gone."""

    status = 503
    code = "OutOfRetention"


# --- function errors: 200 {status: "error"} ---------------------------------------


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

    message: str | None = None
    """Shown instead of the rendered data when set (errors the system raises as ConvexErrors)."""

    def __init__(self, data: Any = None):
        self.data = data
        super().__init__(data if isinstance(data, str) else repr(data))


class InvalidCursor(ConvexError):
    """A pagination cursor from another query (index, range or order): the clients start over."""

    message = "InvalidCursor: Tried to run a query starting from a cursor, but it looks like this cursor is from a different query."

    def __init__(self) -> None:
        super().__init__({"isConvexSystemError": True, "paginationError": "InvalidCursor"})


# --- errors in what user code asked for: "Uncaught Error: ..." ---------------------


class InvalidValueError(ConvexpyError, ValueError):
    """A value is not a valid Convex value (type, field name, limits)."""


class ValueTooNested(InvalidValueError):
    """A value nested deeper than Convex allows (64 levels); refused before any deep walk."""


class InvalidId(InvalidValueError):
    """A string is not a canonical Convex document id."""


class ReadLimitExceeded(InvalidValueError):
    """A function read more intervals or documents than one transaction may."""


class SyscallError(InvalidValueError):
    """A syscall that cannot be run as asked (unknown operation, malformed arguments)."""


class QueryError(InvalidValueError):
    """A query was built wrongly (bad index, range, cursor or pagination options)."""


# --- the sync protocol -------------------------------------------------------------


class ProtocolError(ConvexpyError):
    """The client broke the sync protocol. ``fatal`` errors are answered with a FatalError message
    (the JS client then stops for good); the others just close the socket with ``close_code``."""

    def __init__(self, message: str, *, fatal: bool = False, close_code: int = 1011, reason: str = "InternalServerError"):
        super().__init__(message)
        self.message = message
        self.fatal = fatal
        self.close_code = close_code
        self.reason = reason


# --- inside the server (never on the wire as such) -----------------------------------


class ConflictError(ConvexpyError):
    """A transaction read something that a concurrent commit changed; it must be retried."""


class SchemaError(ConvexpyError):
    """The schema is invalid, or stored documents do not match it."""


class ModuleLoadError(ConvexpyError):
    """A functions module failed to import; the message names the file."""
