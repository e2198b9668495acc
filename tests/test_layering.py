"""Lower layers never import upper ones: the package layout is the architecture (DESIGN.md 9)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "convexpy"
LAYERS = ["values", "schema", "storage", "database", "runtime", "sync", "server"]
"""Bottom to top. Modules at the package's top level (errors, settings, services, metrics) sit below
them all; the entry points (the ``convexpy`` facade, ``__main__``, ``cli``) above them all."""
ENTRY_POINTS = ("convexpy", "convexpy.__main__", "convexpy.cli")


def module_name(path: Path) -> str:
    parts = ("convexpy", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    if module in ENTRY_POINTS:
        return len(LAYERS)
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "convexpy":
        return -2
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else -1


def imports_of(path: Path) -> list[str]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                found.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.append(node.module)
    return found


def test_no_module_imports_a_layer_above_its_own():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        own = layer_of(module_name(path))
        for imported in imports_of(path):
            if imported == "convexpy":
                continue  # `from .. import __version__`: the package is imported before any module of it
            if layer_of(imported) > own:
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {imported}")
    assert offenders == []
