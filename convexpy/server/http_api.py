"""The Convex HTTP API on the API port (``spec/convex-http.md`` section 1).

Function routes answer 200 with a ``UdfResponse`` whenever a function was
reached (even if it failed), and a non-2xx ``{code, message}`` envelope for
everything else: bad content type, bad JSON, bad path, bad auth, overload.
"""

from __future__ import annotations

import base64
import struct
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import BadRequest, Forbidden, PayloadTooLarge, RequestError
from ..runtime.calls import Deployment, decode_args_or_outcome, new_request_id
from ..runtime.executor import Identity, NotFoundStyle, Outcome
from ..runtime.functions import FunctionKind
from ..runtime.paths import FunctionPath, parse_path
from ..values import json as cjson
from .query_cache import QueryResponseCache

MAX_BODY_BYTES = 16 * 1024 * 1024 + 2000


class JsonResponse:
    """A JSON response sent as two ASGI messages: what starlette's ``Response`` does, minus the
    header bookkeeping that showed up in the by_sid profile."""

    __slots__ = ("body", "status_code", "raw_headers")

    def __init__(self, body: bytes, status: int = 200, headers: dict[str, str] | None = None):
        self.body = body
        self.status_code = status
        self.raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if headers:
            self.raw_headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body})


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), status, headers)


def scope_headers(scope: Any) -> dict[str, str]:
    """The request's headers by lower-case name, decoded once per request: CORS and the function
    routes read five or six of them, and starlette scans its list for each."""
    headers = scope.get("convexpy.headers")
    if headers is None:
        headers = scope["convexpy.headers"] = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
    return headers


def header(request: Request, name: str) -> str | None:
    return scope_headers(request.scope).get(name)


def error_response(error: RequestError) -> JsonResponse:
    return json_response({"code": error.code, "message": error.message}, error.status)


async def read_json_body(request: Request) -> Any:
    """The request's JSON body; enforces the content type and size as the backend does."""
    content_type = header(request, "content-type") or ""
    if content_type != "application/json" and content_type.split(";")[0].strip().lower() != "application/json":
        raise BadRequest("Expected request with `Content-Type: application/json`", code="BadJsonBody")
    declared = header(request, "content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is too large (limit: {MAX_BODY_BYTES} bytes)")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body is too large (limit: {MAX_BODY_BYTES} bytes)")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Failed to parse JSON body: {exc}", code="BadJsonBody") from None


def _field(body: Any, name: str, required: bool = True) -> Any:
    if not isinstance(body, dict):
        raise BadRequest(f"Expected a JSON object body, got {type(body).__name__}", code="BadJsonBody")
    if name not in body:
        if required:
            raise BadRequest(f"missing field `{name}`", code="BadJsonBody")
        return None
    return body[name]


def _client_default_format(request: Request) -> str:
    """Old npm (< 1.4.1) and Python (< 0.5.0) clients expect encoded JSON by default."""
    client = header(request, "convex-client") or ""
    name, _, version = client.rpartition("-")
    try:
        parts = tuple(int(part) for part in version.split(".")[:3])
    except ValueError:
        return cjson.CLEAN
    if (name in ("npm", "npm-cli", "actions") and parts < (1, 4, 1)) or (name == "python" and parts < (0, 5, 0)):
        return cjson.ENCODED
    return cjson.CLEAN


def _format(request: Request, requested: Any, default: str | None = None) -> str:
    if requested is None:
        return default or _client_default_format(request)
    fmt = cjson.parse_format(requested) if isinstance(requested, str) else None
    if fmt is None:
        raise BadRequest(f"format param must be one of [`json`]. Got {requested}", code="BadFormat")
    return fmt


class UdfResponses:
    """Builds the ``UdfResponse`` JSON of an outcome."""

    def __init__(self, deployment: Deployment):
        self.deployment = deployment

    def body(self, outcome: Outcome, fmt: str, request_id: str) -> dict[str, Any]:
        encode = cjson.ENCODERS[fmt]
        redact = self.deployment.redact_logs
        if outcome.success:
            body: dict[str, Any] = {"status": "success", "value": encode(outcome.value)}
        else:
            message = f"[Request ID: {request_id}] Server Error"
            if not redact:
                message += "\n" + outcome.error_message
            body = {"status": "error", "errorMessage": message[: 64 * 1024]}
            if outcome.has_error_data:
                body["errorData"] = encode(outcome.error_data)
        if outcome.log_lines and not redact:
            body["logLines"] = outcome.log_lines
        return body


def _request_id(request: Request) -> str:
    return header(request, "convex-request-id") or new_request_id()


def encode_ts(ts: int) -> str:
    return base64.b64encode(struct.pack("<Q", ts)).decode()


def decode_ts(text: Any) -> int:
    try:
        raw = base64.b64decode(text, validate=True)
        if len(raw) != 8:
            raise ValueError
        return struct.unpack("<Q", raw)[0]
    except (ValueError, TypeError):
        raise BadRequest(f"Invalid timestamp {text!r}: expected base64 of an 8-byte little-endian integer", code="InvalidTimestamp") from None


def build_routes(deployment: Deployment) -> list[Route]:
    executor = deployment.executor
    responses = UdfResponses(deployment)
    query_cache = QueryResponseCache(executor.db.write_log, executor.db.cache.budget_bytes // 4)

    def identity_of(request: Request) -> Identity:
        admin_key_param = request.query_params.get("adminKey") if request.scope.get("query_string") else None
        return deployment.keys.identity_from_header(header(request, "authorization"), admin_key_param)

    async def run_udf(
        request: Request,
        path: str | FunctionPath,
        raw_args: Any,
        requested_format: Any,
        *,
        expected: FunctionKind | None,
        style: str = NotFoundStyle.PUBLIC,
        identity: Identity | None = None,
        default_format: str | None = None,
        snapshot_ts: int | None = None,
    ) -> Response:
        fmt = _format(request, requested_format, default_format)
        function_path = path if isinstance(path, FunctionPath) else parse_path(path)
        identity = identity if identity is not None else identity_of(request)
        args, refused = decode_args_or_outcome(function_path, raw_args, too_nested=BadRequest)
        if refused is not None:
            return json_response(responses.body(refused, fmt, _request_id(request)))
        if expected is not FunctionKind.MUTATION and snapshot_ts is None:
            # Read-your-writes across replicas: every commit acknowledged before this request is in.
            await executor.db.include_acknowledged()
        cache_key = None
        if expected is FunctionKind.QUERY and snapshot_ts is None:
            # Arguments decoded first: their nesting is bounded, so encoding the key cannot fail.
            if executor.pushed is not None:
                await executor.pushed.refresh()
            code_version = executor.code_version  # a push or a reload replaces the code: older answers are not served
            cache_key = (function_path, orjson.dumps(raw_args, option=orjson.OPT_SORT_KEYS), fmt, identity.admin, code_version)
            stored = query_cache.get(cache_key)
            if stored is not None:
                return JsonResponse(stored)
        request_id = _request_id(request)
        outcome = await executor.run(function_path, args, identity, expected=expected, style=style, snapshot_ts=snapshot_ts)
        response = json_response(responses.body(outcome, fmt, request_id))
        if cache_key is not None:
            query_cache.put(cache_key, outcome, response.body)
        return response

    def function_endpoint(kind: FunctionKind):
        async def endpoint(request: Request) -> Response:
            if request.method == "GET":
                params = request.query_params
                if "path" not in params:
                    raise BadRequest("missing field `path`", code="BadQueryParams")
                try:
                    raw_args = orjson.loads(params.get("args", "{}"))
                except orjson.JSONDecodeError as exc:
                    raise BadRequest(f"Failed to parse args: {exc}", code="BadQueryParams") from None
                return await run_udf(request, params["path"], raw_args, params.get("format"), expected=kind)
            body = await read_json_body(request)
            return await run_udf(request, _field(body, "path"), _field(body, "args"), _field(body, "format", False), expected=kind)

        return endpoint

    async def function_any(request: Request) -> Response:
        body = await read_json_body(request)
        identity = identity_of(request)
        if not identity.admin:
            raise Forbidden(
                "The provided deploy key was invalid for this deployment. Double check that the environment this key "
                "was generated for matches the desired deployment.",
                code="BadDeployKey",
            )
        component = _field(body, "componentPath", False)
        if component not in (None, ""):
            raise BadRequest(f"Component {component!r} not found; this deployment has only the root component.", code="ComponentNotFound")
        return await run_udf(
            request, _field(body, "path"), _field(body, "args"), _field(body, "format", False),
            expected=None, style=NotFoundStyle.ANY, identity=identity,
        )

    async def run_by_url(request: Request) -> Response:
        segments = [unquote(segment) for segment in request.path_params["identifier"].split("/") if segment]
        if len(segments) < 2:
            raise BadRequest("Path or function name not provided in path, e.g. /api/run/messages/list", code="MissingIdentifier")
        path = parse_path("/".join(segments[:-1]) + ":" + segments[-1])
        body = await read_json_body(request)
        return await run_udf(
            request, path, _field(body, "args"), _field(body, "format", False),
            expected=None, style=NotFoundStyle.ANY, default_format=cjson.CLEAN,
        )

    async def query_ts(request: Request) -> Response:
        return json_response({"ts": encode_ts(executor.db.latest_ts)})

    async def query_at_ts(request: Request) -> Response:
        body = await read_json_body(request)
        ts = decode_ts(_field(body, "ts"))
        if ts > executor.db.latest_ts:
            # The client saw ts on another replica: read there once this replica has caught up.
            if ts > await executor.db.persistence.read_clock():
                raise BadRequest(f"Timestamp {ts} is newer than the latest commit of this deployment", code="InvalidTimestamp")
            await executor.db.wait_for_ts(ts)
        return await run_udf(
            request, _field(body, "path"), _field(body, "args"), _field(body, "format", False),
            expected=FunctionKind.QUERY, snapshot_ts=ts,
        )

    async def query_batch(request: Request) -> Response:
        body = await read_json_body(request)
        queries = _field(body, "queries")
        if not isinstance(queries, list):
            raise BadRequest("`queries` must be an array", code="BadJsonBody")
        paths = [parse_path(_field(entry, "path")) for entry in queries]
        identity = identity_of(request)
        await executor.db.include_acknowledged()
        snapshot_ts = executor.db.latest_ts
        results = []
        for entry, path in zip(queries, paths):
            fmt = _format(request, _field(entry, "format", False))
            args, outcome = decode_args_or_outcome(path, _field(entry, "args"), too_nested=BadRequest)
            if outcome is None:
                outcome = await executor.run(path, args, identity, expected=FunctionKind.QUERY, snapshot_ts=snapshot_ts)
            results.append(responses.body(outcome, fmt, _request_id(request)))
        return json_response({"results": results})

    async def check_admin_key(request: Request) -> Response:
        if not identity_of(request).admin:
            raise Forbidden(
                "The provided deploy key was invalid for this deployment. Double check that the environment this key "
                "was generated for matches the desired deployment.",
                code="BadDeployKey",
            )
        return json_response({"success": True, "allowedOps": ["Deploy", "ViewData", "WriteData", "ActAsUser"], "isReadOnly": False})

    async def live(request: Request) -> Response:
        problems = executor.db.problems()
        if not problems:
            return PlainTextResponse("ok")
        return json_response({"code": "NeedsRestart", "message": "; ".join(problems)}, 503)

    async def ready(request: Request) -> Response:
        problems = executor.db.problems()
        if problems:
            return json_response({"code": "NeedsRestart", "message": "; ".join(problems)}, 503)
        if executor.db.ready:
            return PlainTextResponse("ready")
        return json_response({"code": "NotReady", "message": "This replica has not caught up with the commit log yet."}, 503)

    async def version(request: Request) -> Response:
        return PlainTextResponse(f"convexpy-{__version__}")

    async def instance_name(request: Request) -> Response:
        return PlainTextResponse(deployment.instance_name)

    async def root(request: Request) -> Response:
        return PlainTextResponse("This Convex deployment is running. See https://docs.convex.dev/.")

    return [
        # The function routes come first: Starlette tries routes in order, and these are the hot ones.
        Route("/api/query", function_endpoint(FunctionKind.QUERY), methods=["GET", "POST"]),
        Route("/api/mutation", function_endpoint(FunctionKind.MUTATION), methods=["POST"]),
        Route("/api/action", function_endpoint(FunctionKind.ACTION), methods=["POST"]),
        Route("/", root),
        Route("/health/live", live),
        Route("/health/ready", ready),
        Route("/version", version),
        Route("/instance_version", version),
        Route("/instance_name", instance_name),
        Route("/api/function", function_any, methods=["POST"]),
        Route("/api/run/{identifier:path}", run_by_url, methods=["POST"]),
        Route("/api/query_ts", query_ts, methods=["POST"]),
        Route("/api/query_at_ts", query_at_ts, methods=["POST"]),
        Route("/api/query_batch", query_batch, methods=["POST"]),
        Route("/api/check_admin_key", check_admin_key, methods=["GET", "POST"]),
    ]
