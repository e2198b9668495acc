"""The event loop every convexpy process runs on: uvloop where it is installed.

uvloop (libuv), with uvicorn's httptools parser, doubled by_sid throughput: the
pure-Python loop and h11 cost more than the whole query path. asyncpg and
uvicorn both support it. Without it (an unusual platform) the standard loop
works the same.
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
