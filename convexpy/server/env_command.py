"""``convexpy env list|get|set|remove``: the deployment's environment variables from the command
line, through the same endpoints `npx convex env` uses (so it works against any replica)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from ..settings import Settings


def _call(url: str, key: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        url.rstrip("/") + path, method="GET" if body is None else "POST",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Convex {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def run_env(args: argparse.Namespace, settings: Settings) -> int:
    from ..runtime.auth import admin_key, load_instance_secret

    url = args.url or settings.urls[0]
    key = args.admin_key or admin_key(settings.instance_name, load_instance_secret(settings.data_dir, settings.instance_secret))
    name, value = args.name, args.value
    if args.action == "set" and value is None and name is not None and "=" in name:
        name, value = name.split("=", 1)
    if args.action != "list" and not name:
        print(f"convexpy env {args.action}: give the variable's name", file=sys.stderr)
        return 2
    if args.action == "set" and value is None:
        print("convexpy env set: give NAME VALUE (or NAME=VALUE)", file=sys.stderr)
        return 2
    try:
        if args.action in ("list", "get"):
            variables = _call(url, key, "/api/list_environment_variables")["environmentVariables"]
            if args.action == "list":
                for variable in sorted(variables):
                    print(f"{variable}={variables[variable]}")
                return 0
            if name not in variables:
                print(f"Environment variable {name!r} not found.", file=sys.stderr)
                return 1
            print(variables[name])
            return 0
        _call(url, key, "/api/update_environment_variables", {"changes": [{"name": name, "value": value if args.action == "set" else None}]})
        print(f"Successfully {'set' if args.action == 'set' else 'unset'} {name}")
        return 0
    except urllib.error.HTTPError as error:
        try:
            print(f"convexpy env: {json.loads(error.read())['message']}", file=sys.stderr)
        except (ValueError, KeyError):
            print(f"convexpy env: the deployment answered {error.code}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"convexpy env: cannot reach {url}: {getattr(error, 'reason', error)}", file=sys.stderr)
        return 1
