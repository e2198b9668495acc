"""Process metrics in the Prometheus text format, served at ``GET /metrics``.

Counters and gauges are plain attributes bumped on the hot path (no locks:
one event loop per process). Declared here once, with their help text.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable


@dataclass
class Metrics:
    commits_total: int = 0
    """Transactions committed by this process."""
    conflicts_total: int = 0
    """Commit attempts rejected by OCC validation (then retried)."""
    sync_query_runs_total: int = 0
    """Subscription query executions (shared results count once)."""
    sync_transitions_total: int = 0
    """Transitions sent to WebSocket clients."""
    cache_hits_total: int = 0
    """Index range reads served from the index cache."""
    cache_misses_total: int = 0
    """Index range reads that went to PostgreSQL."""
    query_cache_hits_total: int = 0
    """/api/query calls answered with a stored response (nothing read or run)."""
    clock_reads_total: int = 0
    """Reads of the commit clock for read-your-writes across replicas (none while this replica is solo)."""

    def render(self, gauges: dict[str, tuple[str, Callable[[], float]]]) -> str:
        lines = []
        for field in fields(self):
            name = f"convexpy_{field.name}"
            lines += [f"# HELP {name} {_HELP[field.name]}", f"# TYPE {name} counter", f"{name} {getattr(self, field.name)}"]
        for name, (help_text, read) in gauges.items():
            lines += [f"# HELP convexpy_{name} {help_text}", f"# TYPE convexpy_{name} gauge", f"convexpy_{name} {read()}"]
        return "\n".join(lines) + "\n"


_HELP = {
    "commits_total": "Transactions committed by this process.",
    "conflicts_total": "Commit attempts rejected by OCC validation (then retried).",
    "sync_query_runs_total": "Subscription query executions (shared results count once).",
    "sync_transitions_total": "Transitions sent to WebSocket clients.",
    "cache_hits_total": "Index range reads served from the index cache.",
    "cache_misses_total": "Index range reads that went to PostgreSQL.",
    "query_cache_hits_total": "/api/query calls answered with a stored response (nothing read or run).",
    "clock_reads_total": "Reads of the commit clock for read-your-writes across replicas (none while this replica is solo).",
}

METRICS = Metrics()
"""The process-wide metrics."""
