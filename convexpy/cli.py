"""The ``convexpy`` command: ``serve``, ``dev``, ``admin-key`` and ``env``."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import ModuleLoadError, SchemaError
from .settings import add_arguments, resolve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convexpy", description="A self-hosted backend that speaks the Convex protocol.")
    parser.add_argument("--version", action="version", version=f"convexpy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{serve,dev,admin-key,env}")
    serve = commands.add_parser("serve", help="Run the deployment (API port and site port).")
    add_arguments(serve)
    dev = commands.add_parser("dev", help="Like serve, and reload the functions folder when one of its files changes.")
    add_arguments(dev)
    key = commands.add_parser("admin-key", help="Print the admin key for this data folder (or INSTANCE_SECRET).")
    add_arguments(key, ("data_dir", "instance_name", "instance_secret"))
    env = commands.add_parser("env", help="List, get, set or remove the deployment's environment variables (as `npx convex env`).")
    env.add_argument("action", choices=("list", "get", "set", "remove"))
    env.add_argument("name", nargs="?", help="The variable (for set: NAME VALUE, or NAME=VALUE).")
    env.add_argument("value", nargs="?")
    env.add_argument("--url", help="The deployment's URL (default: http://<host>:<port> of these settings).")
    env.add_argument("--admin-key", help="Its admin key (default: the one of this data folder, or INSTANCE_SECRET).")
    add_arguments(env, ("data_dir", "instance_name", "instance_secret", "host", "port"))
    commands.add_parser("worker")  # started by `serve --workers N` only, so neither listed nor described
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "worker":
        from .server.supervisor import run_worker

        run_worker()
        return 0
    settings = resolve(args)
    if args.command == "admin-key":
        from .runtime.auth import admin_key, load_instance_secret

        print(admin_key(settings.instance_name, load_instance_secret(settings.data_dir, settings.instance_secret)))
        return 0
    if args.command == "env":
        from .server.env_command import run_env

        return run_env(args, settings)

    from .server import eventloop
    from .server.serve import configure_logging, serve

    configure_logging(settings.log_level)
    from .server.supervisor import supervise

    try:
        if args.command == "dev":
            eventloop.run(serve(settings, dev=True))  # one process: the one that reloads
        elif settings.workers > 1:
            supervise(settings)
        else:
            eventloop.run(serve(settings))
    except (ModuleLoadError, SchemaError) as error:
        print(f"convexpy: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
