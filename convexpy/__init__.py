"""convexpy: a self-hosted backend that speaks the Convex protocol.

The public API for function authors::

    from convexpy import query, mutation, action, v, ConvexError, Int64
    from convexpy import define_schema, define_table
"""

from .errors import ConvexError
from .runtime.cron_specs import cron_jobs
from .runtime.functions import action, internal_action, internal_mutation, internal_query, mutation, query
from .runtime.logs import console
from .schema import define_schema, define_table
from .values import DocumentId, Int64, v

__version__ = "0.1.0"

__all__ = [
    "ConvexError",
    "DocumentId",
    "Int64",
    "action",
    "console",
    "cron_jobs",
    "define_schema",
    "define_table",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "query",
    "v",
]
