"""The environment variable endpoints `npx convex env set|remove` and the dashboard call.

``POST /api/update_environment_variables`` applies a batch of changes in one
transaction; ``GET /api/list_environment_variables`` lists them. Both need the
admin key. ``env list`` and ``env get`` read through the
``_system/cli/queryEnvironmentVariables`` system queries instead
(``runtime/system_functions.py``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import Unauthenticated
from ..runtime import environment
from ..runtime.calls import Deployment
from .http_api import header, json_response, read_json_body


def build_environment_routes(deployment: Deployment) -> list[Route]:
    database = deployment.executor.db

    def require_admin(request: Request) -> None:
        if not deployment.keys.identity_from_header(header(request, "authorization")).admin:
            raise Unauthenticated("Changing or listing environment variables needs the deployment's admin key.")

    async def update(request: Request) -> Response:
        require_admin(request)
        changes = environment.parse_changes(await read_json_body(request))
        await environment.apply(database, changes)
        return json_response({})

    async def list_all(request: Request) -> Response:
        require_admin(request)
        documents = await environment.documents(database.begin(writable=False))
        return json_response({"environmentVariables": {document["name"]: document["value"] for document in documents}})

    return [
        route
        for prefix in ("/api", "/api/v1")
        for route in (
            Route(f"{prefix}/update_environment_variables", update, methods=["POST"]),
            Route(f"{prefix}/list_environment_variables", list_all, methods=["GET"]),
        )
    ]
