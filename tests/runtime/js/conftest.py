"""The fixture TypeScript project, bundled the way `npx convex deploy` bundles a `convex/` folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from convexpy.runtime.js.modules import ModuleScript, to_script

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent.parent / "js" / "node_modules"
ENTRIES = ["yellowpages.ts", "other.ts", "globals.ts", "schema.ts", "http.ts", "crons.ts", "auth.config.ts"]


def bundle(project: Path, out: Path, entries: list[str], platform: str = "browser") -> dict[str, str]:
    """esbuild with the CLI's options (spec/convex-deploy.md 1.4): ESM, split into _deps chunks
    (``_deps/node`` for "use node" modules, bundled for ``platform=node``), minified syntax and
    identifiers, names kept."""
    chunks = "_deps/node" if platform == "node" else "_deps"
    command = [
        str(NODE_MODULES / ".bin" / "esbuild"), *(str(project / "convex" / entry) for entry in entries),
        "--bundle", "--format=esm", "--splitting", f"--chunk-names={chunks}/[hash]", f"--platform={platform}", "--target=esnext",
        "--minify-syntax", "--minify-identifiers", "--keep-names", "--conditions=convex,module", f"--outdir={out}",
        f"--outbase={project / 'convex'}", "--define:process.env.NODE_ENV=\"production\"", "--log-level=error",
    ]
    subprocess.run(command, check=True, env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    return {str(path.relative_to(out)): path.read_text() for path in sorted(out.rglob("*.js"))}


@pytest.fixture(scope="session")
def pushed(tmp_path_factory) -> dict[str, ModuleScript]:
    """The fixture project's modules, rewritten as a push would store them."""
    sources = bundle(HERE / "project", tmp_path_factory.mktemp("bundle"), ENTRIES)
    return {path: to_script(path, source) for path, source in sources.items()}
