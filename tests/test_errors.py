"""Every error a client can see is defined in convexpy.errors, maps to one wire shape, and says
what was wrong. Messages built elsewhere are pinned by the tests of the code that raises them."""

from __future__ import annotations

import inspect

import pytest

import convexpy.errors as errors

WIRE = {
    # class: (HTTP status, code)
    errors.RequestError: (500, "InternalServerError"),
    errors.BadRequest: (400, "BadRequest"),
    errors.PayloadTooLarge: (413, "PayloadTooLarge"),
    errors.Unauthenticated: (401, "Unauthenticated"),
    errors.BadAdminKey: (401, "BadAdminKey"),
    errors.Forbidden: (403, "Forbidden"),
    errors.NotFound: (404, "NotFound"),
    errors.Overloaded: (503, "Overloaded"),
    errors.DatabaseUnavailable: (503, "DatabaseUnavailable"),
    errors.CommitRefused: (500, "CommitFailed"),
    errors.DuplicateSessionRequest: (400, "DuplicateRequest"),
    errors.PushRefused: (400, "InvalidModules"),
    errors.EnvironmentVariableError: (400, "BadRequest"),  # each raise names its reference code
    errors.OutOfRetention: (503, "OutOfRetention"),
}


def test_every_request_error_class_has_a_pinned_status_and_code():
    defined = {cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.RequestError)}
    assert defined == set(WIRE), "a new request error needs its status and code pinned here"
    for cls, (status, code) in WIRE.items():
        assert (cls.status, cls.code) == (status, code), cls


def test_no_error_shadows_a_builtin():
    import builtins

    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if cls.__module__ == errors.__name__:
            assert not hasattr(builtins, name), f"convexpy.errors.{name} shadows the builtin"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (errors.DuplicateSessionRequest("s1", 7),
         "Mutation request 7 of session s1 was already applied; request ids must not repeat within a session. Nothing was applied this time."),
        (errors.InvalidCursor(),
         "InvalidCursor: Tried to run a query starting from a cursor, but it looks like this cursor is from a different query."),
        (errors.ArgumentValidationError("Value does not match"), "ArgumentValidationError: Value does not match"),
        (errors.ReturnsValidationError("Value does not match"), "ReturnsValidationError: Value does not match"),
    ],
)
def test_fixed_messages(error, message):
    assert error.message == message


def test_invalid_cursor_carries_the_data_the_paginating_clients_look_for():
    assert errors.InvalidCursor().data == {"isConvexSystemError": True, "paginationError": "InvalidCursor"}
