"""Every knob, declared once: name, CLI flag, environment variables, default and help.

``convexpy serve --help`` is generated from this table, and a test checks that
README.md documents every setting. Environment names follow the reference
backend where it has one (``INSTANCE_NAME``, ``INSTANCE_SECRET``,
``POSTGRES_URL``/``DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Setting:
    name: str
    flag: str
    env: tuple[str, ...]
    default: Any
    help: str
    type: Callable[[str], Any] = str


def _bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


SETTINGS: tuple[Setting, ...] = (
    Setting("functions", "--functions", ("CONVEXPY_FUNCTIONS",), "./functions", "Folder of Python function modules (and schema.py).", Path),
    Setting("host", "--host", ("CONVEXPY_HOST",), "127.0.0.1",
            "Address to listen on (0.0.0.0 for every interface; the container image sets it)."),
    Setting("port", "--port", ("CONVEXPY_PORT",), 3210, "Port of the Convex API (HTTP and WebSocket).", int),
    Setting("site_port", "--site-port", ("CONVEXPY_SITE_PORT",), 3211, "Port of the site (HTTP actions).", int),
    Setting("data_dir", "--data-dir", ("CONVEXPY_DATA_DIR",), "./convex_data", "Folder for the instance secret and the embedded PostgreSQL.", Path),
    Setting(
        "database_url",
        "--database-url",
        ("DATABASE_URL", "POSTGRES_URL"),
        None,
        "PostgreSQL URL. Without a database name in the URL, the database is named after the instance. "
        "Unset: an embedded PostgreSQL runs in the data folder.",
    ),
    Setting("cloud_origin", "--cloud-origin", ("CONVEX_CLOUD_ORIGIN",), "",
            "The API's public URL, as functions see it in CONVEX_CLOUD_URL (unset: http://<host>:<port>)."),
    Setting("site_origin", "--site-origin", ("CONVEX_SITE_ORIGIN",), "",
            "The site's public URL (HTTP actions), as functions see it in CONVEX_SITE_URL (unset: http://<host>:<site port>)."),
    Setting("instance_name", "--instance-name", ("INSTANCE_NAME",), "convex-self-hosted", "Deployment name; the first part of the admin key."),
    Setting("instance_secret", "--instance-secret", ("INSTANCE_SECRET",), None, "Hex secret the admin key derives from. Unset: generated once and kept in the data folder."),
    Setting("force_schema", "--force-schema", ("CONVEXPY_FORCE_SCHEMA",), False,
            "Push this functions folder's schema even if the deployment had it before and replaced it (a deliberate rollback).", _bool),
    Setting("redact_logs", "--redact-logs-to-client", ("REDACT_LOGS_TO_CLIENT",), False, "Hide error details and log lines from clients, as production Convex does.", _bool),
    Setting("retention_s", "--retention-s", ("CONVEXPY_RETENTION_S",), 300.0,
            "Seconds of history kept: older document and index revisions are deleted, and reads at older snapshots refused.", float),
    Setting("cache_mb", "--cache-mb", ("CONVEXPY_CACHE_MB",), 256.0,
            "Memory budget of the index cache per replica process, plus a quarter of it for stored query responses (0 turns both off).", float),
    Setting("workers", "--workers", ("CONVEXPY_WORKERS",), 1,
            "Replica processes on this machine, sharing the ports (one per core is a good start).", int),
    Setting("pool_size", "--pool-size", ("CONVEXPY_POOL_SIZE",), 16, "Maximum PostgreSQL connections per process.", int),
    Setting("log_level", "--log-level", ("CONVEXPY_LOG_LEVEL",), "info",
            "Server log level (debug, info, warning, error). At debug every request is logged; at info every failed one."),
    # --- limits and tuning: defaults that suit most deployments ---
    Setting("max_connections", "--max-connections", ("CONVEXPY_MAX_CONNECTIONS",), 4096,
            "Open connections per process (HTTP and WebSocket) before new requests are answered 503.", int),
    Setting("http_timeout_s", "--http-timeout-s", ("CONVEXPY_HTTP_TIMEOUT_S",), 30.0,
            "Seconds a client may take to send a request's headers and body before the connection is closed.", float),
    Setting("http_idle_s", "--http-idle-s", ("CONVEXPY_HTTP_IDLE_S",), 75.0,
            "Seconds an idle keep-alive HTTP connection is kept open.", float),
    Setting("session_outbox_mb", "--session-outbox-mb", ("CONVEXPY_SESSION_OUTBOX_MB",), 16.0,
            "Unsent WebSocket messages kept per session; a client that reads none past this is disconnected.", float),
    Setting("session_max_queries", "--session-max-queries", ("CONVEXPY_SESSION_MAX_QUERIES",), 1000,
            "Queries one WebSocket session may subscribe to at once.", int),
    Setting("runners", "--runners", ("CONVEXPY_RUNNERS",), 2,
            "Runner processes kept warm for user code; more are forked while the concurrency limits allow (0: run functions in the server process, unprotected).", int),
    Setting("user_timeout_s", "--user-timeout-s", ("CONVEXPY_USER_TIMEOUT_S",), 1.0,
            "CPU time a query or mutation may spend in its runner (Convex: 1 s); waiting for syscalls is not counted.", float),
    Setting("action_timeout_s", "--action-timeout-s", ("CONVEXPY_ACTION_TIMEOUT_S",), 600.0,
            "CPU time an action may spend in its runner (wall-clock time outside syscalls for \"use node\" actions).", float),
    Setting("runner_memory_mb", "--runner-memory-mb", ("CONVEXPY_RUNNER_MEMORY_MB",), 1024,
            "Address-space limit of each runner process (0: none); a runner past it is replaced.", int),
    Setting("node", "--node", ("CONVEXPY_NODE",), "",
            'Node.js binary for the actions of "use node" modules (unset: `node` on PATH; "off": refuse such pushes).'),
    Setting("max_concurrent_queries", "--max-concurrent-queries", ("APPLICATION_MAX_CONCURRENT_QUERIES",), 16,
            "Queries run at once per replica (Convex's limit); more wait for a slot.", int),
    Setting("max_concurrent_mutations", "--max-concurrent-mutations", ("APPLICATION_MAX_CONCURRENT_MUTATIONS",), 16,
            "Mutations run at once per replica (Convex's limit); more wait for a slot.", int),
    Setting("max_concurrent_actions", "--max-concurrent-actions", ("APPLICATION_MAX_CONCURRENT_V8_ACTIONS",), 64,
            "Actions run at once per replica (Convex's limit); more wait for a slot.", int),
    Setting("function_wait_ms", "--function-wait-ms", ("APPLICATION_FUNCTION_RUNNER_SEMAPHORE_TIMEOUT",), 5000,
            "Milliseconds a call waits for a slot before it fails with Overloaded (the client retries).", int),
    Setting("scheduler_parallelism", "--scheduler-parallelism", ("CONVEXPY_SCHEDULER_PARALLELISM",), 8,
            "Scheduled functions one replica runs at once (Convex: 8).", int),
    Setting("scheduled_retention_s", "--scheduled-retention-s", ("CONVEXPY_SCHEDULED_RETENTION_S",), 604800.0,
            "Seconds finished scheduled jobs stay in _scheduled_functions before they are deleted (Convex: 7 days).", float),
    Setting("commit_batch_max", "--commit-batch-max", ("CONVEXPY_COMMIT_BATCH_MAX",), 128,
            "Most commits written in one PostgreSQL statement (group commit).", int),
    Setting("mutation_retries", "--mutation-retries", ("CONVEXPY_MUTATION_RETRIES",), 8,
            "Optimistic attempts of a conflicting mutation before its last, exclusive attempt.", int),
    Setting("exclusive_timeout_s", "--exclusive-timeout-s", ("CONVEXPY_EXCLUSIVE_TIMEOUT_S",), 5.0,
            "Longest a mutation's exclusive last attempt may run (it holds every replica's commits).", float),
    Setting("replica_wait_s", "--replica-wait-s", ("CONVEXPY_REPLICA_WAIT_S",), 10.0,
            "Longest a replica waits to catch up with a commit a client saw on another replica.", float),
    Setting("follower_poll_s", "--follower-poll-s", ("CONVEXPY_FOLLOWER_POLL_S",), 1.0,
            "Seconds between checks of the commit log besides its notifications.", float),
)


@dataclass
class Settings:
    functions: Path
    host: str
    port: int
    site_port: int
    data_dir: Path
    database_url: str | None
    cloud_origin: str
    site_origin: str
    instance_name: str
    instance_secret: str | None
    force_schema: bool
    redact_logs: bool
    retention_s: float
    cache_mb: float
    workers: int
    pool_size: int
    log_level: str
    max_connections: int
    http_timeout_s: float
    http_idle_s: float
    session_outbox_mb: float
    session_max_queries: int
    runners: int
    user_timeout_s: float
    action_timeout_s: float
    runner_memory_mb: int
    node: str
    max_concurrent_queries: int
    max_concurrent_mutations: int
    max_concurrent_actions: int
    function_wait_ms: int
    scheduler_parallelism: int
    scheduled_retention_s: float
    commit_batch_max: int
    mutation_retries: int
    exclusive_timeout_s: float
    replica_wait_s: float
    follower_poll_s: float

    @property
    def urls(self) -> tuple[str, str]:
        """The public URLs of the API and of the site (``--cloud-origin``/``--site-origin``, else from
        the address and ports; an address of every interface is advertised as 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return (self.cloud_origin.rstrip("/") or f"http://{host}:{self.port}",
                self.site_origin.rstrip("/") or f"http://{host}:{self.site_port}")

    @classmethod
    def defaults(cls, **overrides: Any) -> "Settings":
        """Every setting at its default, except ``overrides`` (for embedding and tests)."""
        values = {setting.name: _default(setting) for setting in SETTINGS}
        unknown = set(overrides) - set(values)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values.update(overrides)
        return cls(**values)


def _default(setting: Setting) -> Any:
    if isinstance(setting.default, str) and setting.type is not str:
        return setting.type(setting.default)
    return setting.default


def add_arguments(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """Add the flags of ``names`` (all settings by default) to ``parser``."""
    for setting in SETTINGS:
        if names is not None and setting.name not in names:
            continue
        env_note = " or ".join(f"${name}" for name in setting.env)
        parser.add_argument(
            setting.flag,
            dest=setting.name,
            default=None,
            type=setting.type,
            help=f"{setting.help} (env {env_note}; default {setting.default})",
        )


def resolve(namespace: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    """Flags win over environment variables, which win over defaults."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = getattr(namespace, setting.name, None)
        if value is None:
            for name in setting.env:
                if environ.get(name):
                    value = setting.type(environ[name])
                    break
        if value is None:
            value = _default(setting)
        values[setting.name] = value
    return Settings(**values)
