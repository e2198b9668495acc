"""The ASGI applications of the API port and the site port, and their error handling.

Every failure leaves as a ``{code, message}`` JSON body with the status its
code maps to; an unexpected exception is logged and answered with the
reference backend's generic 500, and the server keeps serving.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import BadRequest, InvalidId, RequestError
from ..metrics import METRICS
from ..runtime.calls import Deployment
from .environment_api import build_environment_routes
from .http_api import build_routes, error_response, json_response, scope_headers
from .push_api import build_push_routes
from .request_log import RequestLog, log_unexpected

if TYPE_CHECKING:
    from ..sync.endpoint import SyncHub

logger = logging.getLogger(__name__)


async def _system_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "NotFound", 405: "MethodNotAllowed"}
    return json_response({"code": codes.get(exc.status_code, "BadRequest"), "message": str(exc.detail)}, exc.status_code)


async def _value_error(request: Request, exc: Exception) -> Response:
    return error_response(BadRequest(str(exc), code="BadRequest"))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log_unexpected(f"unhandled error serving {request.method} {request.url.path[:200]}", exc)
    return json_response({"code": "InternalServerError", "message": "Your request couldn't be completed. Try again later."}, 500)


class CorsMiddleware:
    """Mirror the caller's origin and requested headers on ``/api/*``, as the backend does.

    The browser ``ConvexHttpClient`` sends ``Content-Type: application/json``
    and ``Convex-Client``, so every call is preflighted.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = scope_headers(scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        cors = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"origin"),
        ]
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            cors += [
                (b"access-control-allow-methods", b"GET, POST, OPTIONS, PATCH, DELETE, PUT"),
                (b"access-control-allow-headers", headers.get("access-control-request-headers", "*").encode("latin-1")),
                (b"access-control-max-age", b"86400"),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": cors + [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + cors}
            await send(message)

        await self.app(scope, receive, send_with_cors)


class FunctionRoutesFirst:
    """``POST /api/query``, ``/api/mutation`` and ``/api/action`` skip the router and its middleware.

    They are nearly every request a deployment serves; the endpoint functions
    and the error mapping are the very ones the router uses, so only the
    dispatch is shorter. A request with an ``Origin`` (a browser, which needs
    CORS headers) or an odd path takes the ordinary way through the middleware.
    """

    HOT_PATHS = ("/api/query", "/api/mutation", "/api/action")

    def __init__(self, app: ASGIApp, routes: list):
        self.app = app
        self.endpoints = {route.path: route.endpoint for route in routes if getattr(route, "path", None) in self.HOT_PATHS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope.get("path", "")) if scope["type"] == "http" and scope["method"] == "POST" else None
        if endpoint is None or "origin" in scope_headers(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except RequestError as exc:
            response = error_response(exc)
        except InvalidId as exc:
            response = await _value_error(request, exc)
        except Exception as exc:  # noqa: BLE001 - same as the router's catch-all handler
            response = await _internal_error(request, exc)
        await response(scope, receive, send)


class CollapseSlashes:
    """``https://host/`` as a deployment URL makes the JS client ask for ``//api/...``; serve it anyway."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if "//" in path:
            while "//" in path:
                path = path.replace("//", "/")
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_api_app(deployment: Deployment, hub: "SyncHub | None" = None) -> ASGIApp:
    """The API port: the HTTP API and the WebSocket sync endpoints."""
    from ..sync.endpoint import SyncHub

    hub = hub or SyncHub(deployment)
    if deployment.executor.pushed is not None:
        deployment.executor.pushed.on_change.append(hub.subscriptions.invalidate_all)  # a push re-runs every query

    async def metrics(request: Request) -> Response:
        gauges = {
            "sync_sessions": ("Open WebSocket sessions.", lambda: len(hub.sessions)),
            "sync_subscriptions": ("Live query subscriptions.", lambda: hub.subscriptions.count),
            "latest_commit_ts": ("Newest commit timestamp this process has applied (ns).", lambda: deployment.executor.db.latest_ts),
            "solo_lease": ("1 while this replica is the only writer (queries skip the commit clock).",
                           lambda: int(deployment.executor.db.lease is not None and deployment.executor.db.lease.solo)),
        }
        return PlainTextResponse(METRICS.render(gauges), media_type="text/plain; version=0.0.4")

    pushed = deployment.executor.pushed
    routes = build_routes(deployment) + build_environment_routes(deployment) + (
        build_push_routes(deployment, pushed) if pushed is not None else []) + [
        Route("/metrics", metrics),
        WebSocketRoute("/api/sync", hub.serve),
        WebSocketRoute("/api/{client_version}/sync", hub.serve),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            RequestError: _system_error,
            HTTPException: _http_error,
            InvalidId: _value_error,
            Exception: _internal_error,
        },
    )
    return RequestLog(FunctionRoutesFirst(CollapseSlashes(CorsMiddleware(app)), routes))


def create_site_app(deployment: Deployment) -> ASGIApp:
    """The site port. HTTP actions are not routed yet, so every path is a 404."""

    async def no_routes(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        response = json_response({"code": "NotFound", "message": "No HTTP actions are defined for this deployment."}, 404)
        await response(scope, receive, send)

    return no_routes
