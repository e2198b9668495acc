"""Function paths: ``"dir/module:name"``, parsed and checked as the reference backend does."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..errors import BadRequest

_COMPONENT = re.compile(r"^[A-Za-z0-9_.]+$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_IDENTIFIER = 64


@dataclass(frozen=True, slots=True)
class FunctionPath:
    module: str
    """Module path without extension, e.g. ``dir/sub``."""
    name: str

    def __str__(self) -> str:
        """The stripped form used in not-found messages (``mod`` for a default export)."""
        return self.module if self.name == "default" else f"{self.module}:{self.name}"

    @property
    def canonical(self) -> str:
        """The canonical form with ``.js``, as "Trying to execute ..." messages show it."""
        return f"{self.module}.js:{self.name}"


def _invalid(path: str, reason: str) -> BadRequest:
    return BadRequest(f"{path} is not a valid path to a Convex function. {reason}", code="BadConvexFunctionIdentifier")


def parse_path(path: str) -> FunctionPath:
    """Parse ``module[:name]``; raises :class:`BadRequest` (400) for a malformed path."""
    if not isinstance(path, str):
        raise BadRequest("Function path must be a string", code="BadConvexFunctionIdentifier")
    return _parse_path(path)


@functools.lru_cache(maxsize=4096)
def _parse_path(path: str) -> FunctionPath:
    module, _, name = path.rpartition(":")
    if not module:
        module, name = path, "default"
    if module.startswith("/"):
        raise _invalid(path, f"Module paths must be relative ({module} is absolute).")
    if module.endswith(".js"):
        module = module[:-3]
    components = module.split("/")
    last = components[-1]
    if "." in last:
        raise _invalid(path, f"Module path ({module}) has an extension that isn't 'js'.")
    for component in components:
        if component in ("", ".", ".."):
            raise _invalid(path, f"Module path ({module}) contains an empty, '.' or '..' component.")
        if len(component) > MAX_IDENTIFIER:
            raise _invalid(path, f"Path component {component} is too long.")
        if not _COMPONENT.match(component) or not any(ch.isalnum() for ch in component):
            raise _invalid(path, f"Path component {component} can only contain alphanumeric characters, underscores, or periods.")
    if not _IDENTIFIER.match(name) or len(name) > MAX_IDENTIFIER or set(name) == {"_"}:
        raise _invalid(path, f"Function name {name} is not a valid identifier.")
    return FunctionPath(module, name)
