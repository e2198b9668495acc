"""``convexpy dev``: serve, and reload the Python functions folder whenever one of its files changes.

A change is loaded whole or not at all: the folder is imported again, its
schema pushed (as ``npx convex dev`` pushes, even one the deployment had
before), and only then do the new functions, crons and runners replace the old
ones, and every subscribed query re-runs. A folder that fails to import, or a
schema the stored documents violate, is reported and the last good code keeps
serving. Files are watched with ``watchfiles`` (the library uvicorn's
``--reload`` uses).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable

from watchfiles import PythonFilter, awatch

from ..errors import ModuleLoadError, SchemaError
from ..runtime import crons
from ..runtime.executor import Executor
from ..runtime.loader import load_functions

logger = logging.getLogger("convexpy.dev")


class FolderReloader:
    def __init__(self, executor: Executor, root: Path, on_reload: list[Callable[[], None]]):
        self.executor = executor
        self.root = Path(root).resolve()
        self.on_reload = on_reload
        """Called after a reload (the subscriptions' invalidation)."""
        self.reloads = 0

    async def watch(self, stop: asyncio.Event) -> None:
        async for changes in awatch(self.root, watch_filter=PythonFilter(), stop_event=stop, debounce=200):
            logger.info("functions folder changed (%s); reloading", ", ".join(sorted(Path(path).name for _, path in changes)))
            await self.reload()

    async def reload(self) -> bool:
        """Load the folder again; True if the new code now serves."""
        executor = self.executor
        try:
            registry = load_functions(self.root)
            await executor.db.schemas.push(registry.schema, force=True)
        except (ModuleLoadError, SchemaError) as error:
            logger.error("the functions folder did not reload; the last good code keeps serving:\n%s", error)
            return False
        except Exception as error:  # noqa: BLE001 - whatever the user's code raised as it loaded
            logger.error("the functions folder did not reload; the last good code keeps serving:\n%s: %s", type(error).__name__, error)
            return False
        registry.pushed = executor.registry.pushed
        executor.registry = registry
        executor.code_generation += 1
        if executor.pool is not None:
            await executor.pool.reload()
        await crons.register(executor)
        for callback in self.on_reload:
            callback()
        self.reloads += 1
        logger.info("reloaded %d function(s) from %s", len(registry.functions), self.root)
        return True


def start_watching(executor: Executor, root: Path, on_reload: list[Callable[[], None]], stop: asyncio.Event) -> Any:
    reloader = FolderReloader(executor, root, on_reload)
    return asyncio.get_running_loop().create_task(reloader.watch(stop))
