"""Loads a functions folder: every ``*.py`` module's functions, and ``schema.py``.

The folder is imported as a package named ``convex_functions`` so that modules
can import each other relatively (``from .helpers import x``) without putting
the folder on ``sys.path`` (where ``functions/json.py`` would shadow the stdlib).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModuleLoadError, SchemaError
from ..schema import SchemaDefinition
from .cron_specs import Crons
from .functions import ConvexFunction
from .logs import log_print
from .paths import FunctionPath
from .system_functions import SYSTEM_FUNCTIONS

PACKAGE = "convex_functions"
YIELD_MARKER = ".yield-to-push"
"""A file in a functions folder whose functions a push may replace (see :class:`FunctionRegistry`)."""


@dataclass
class FunctionRegistry:
    functions: dict[FunctionPath, ConvexFunction] = field(default_factory=dict)
    """The functions folder's Python functions."""
    schema: SchemaDefinition | None = None
    pushed: dict[FunctionPath, ConvexFunction] = field(default_factory=dict)
    """The last push's JavaScript functions (``runtime/js/pushed.py``)."""
    crons: dict[str, Any] = field(default_factory=dict)
    """The folder's ``crons.py`` specs (``runtime/cron_specs.py``), by identifier."""
    yields_to_push: bool = False
    """The folder has a ``.yield-to-push`` file (the reference app does): a push may define its paths,
    and the pushed functions are served. Otherwise a push defining one of its paths is refused."""

    def has_module(self, module: str) -> bool:
        """Whether any function (Python or pushed) lives in ``module``."""
        return any(path.module == module for path in (*self.functions, *self.pushed))

    def get(self, path: FunctionPath) -> ConvexFunction | None:
        if path.module.startswith("_system/"):
            return SYSTEM_FUNCTIONS.get(path)
        if self.yields_to_push:
            return self.pushed.get(path) or self.functions.get(path)
        return self.functions.get(path) or self.pushed.get(path)


def _module_paths(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*.py")
        if not any(part.startswith((".", "_")) for part in path.relative_to(root).parts)
        and "node_modules" not in path.parts
    )


def load_functions(root: Path) -> FunctionRegistry:
    """Import every module under ``root`` and collect its functions and the schema."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ModuleLoadError(f"Functions folder {root} does not exist. Pass --functions DIR or create ./functions.")
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_loader(PACKAGE, loader=None, is_package=True)
    package = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    package.__path__ = [str(root)]
    sys.modules[PACKAGE] = package

    registry = FunctionRegistry(yields_to_push=(root / YIELD_MARKER).exists())
    crons_object = None
    for file in _module_paths(root):
        relative = file.relative_to(root).with_suffix("")
        dotted = ".".join((PACKAGE, *relative.parts))
        try:
            module = importlib.import_module(dotted)
        except Exception as exc:  # noqa: BLE001 - report any import failure with its file
            raise ModuleLoadError(f"Failed to load {file}: {type(exc).__name__}: {exc}") from exc
        # print() in a function becomes one of its log lines.
        module.print = log_print  # type: ignore[attr-defined]
        module_path = "/".join(relative.parts)
        if module_path == "schema":
            schema = getattr(module, "schema", None) or getattr(module, "default", None)
            if schema is not None and not isinstance(schema, SchemaDefinition):
                raise SchemaError(f"{file}: `schema` must be the result of define_schema(...)")
            registry.schema = schema
            continue
        if module_path == "crons":
            found = getattr(module, "crons", None) or getattr(module, "default", None)
            if found is not None and not isinstance(found, Crons):
                raise ModuleLoadError(f"{file}: `crons` must be the result of cron_jobs()")
            crons_object = found
        for attribute, value in vars(module).items():
            if isinstance(value, ConvexFunction):
                path = FunctionPath(module_path, attribute)
                registry.functions[path] = value
                if value.path is None:
                    value.path = str(path)
    if crons_object is not None:
        try:
            registry.crons = crons_object.specs()
        except Exception as exc:  # noqa: BLE001 - a bad cron fails the folder's load, with its file
            raise ModuleLoadError(f"Failed to load {root / 'crons.py'}: {exc}") from exc
    return registry
