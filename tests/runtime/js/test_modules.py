"""Pushed ES modules rewritten into scripts behave as ES modules: imports are live and respect
shadowing, every export form works, and what cannot run is refused with the module's name."""

from __future__ import annotations

import pytest

from convexpy.errors import ModuleLoadError
from convexpy.runtime.js.isolate import Isolate
from convexpy.runtime.js.modules import to_script


def _returning(expression: str) -> str:
    """A module exporting `q`, a stand-in for a Convex query whose result is ``expression``."""
    return f"export const q = {{ isQuery: true, isPublic: true, invokeQuery: async () => JSON.stringify({expression}) }};"


def run(modules: dict[str, str], entry: str = "main.js") -> object:
    isolate = Isolate({path: to_script(path, source) for path, source in modules.items()}, lambda op, args: "null")
    try:
        outcome = isolate.invoke(entry, "q", "Query", "[{}]", 1, 0.0)
    finally:
        isolate.close()
    assert outcome.ok, outcome.message
    return outcome.value


def test_imports_are_live_bindings_and_inner_names_shadow_them():
    state = "export let count = 0; export function bump() { count += 1; }"
    main = (
        'import { count as n, bump } from "./state.js";\n'
        "function f(n) { return n; }\n"
        "const g = () => { let n = 5; { const n = 6; } return n; };\n"
        "let caught; try { throw 9; } catch (n) { caught = n; }\n"
        "class K { m(n = 3) { return n; } }\n"
        "const before = n; bump(); bump();\n"
        + _returning("[before, n, f(1), g(), caught, new K().m(), { n }]")
    )
    assert run({"state.js": state, "main.js": main}) == [0, 2, 1, 5, 9, 3, {"n": 2}]


def test_every_import_and_export_form():
    lib = (
        "export default function named() { return 'default'; }\n"
        "export const [a, { b, c: d = 4, ...rest }] = [1, { b: 2, e: 5 }];\n"
        "export class Klass {}\n"
        "const hidden = 'x'; export { hidden as 'odd-name', hidden };\n"
    )
    middle = 'export * from "./lib.js"; export * as ns from "./lib.js"; export { a as renamed } from "./lib.js";'
    main = (
        'import fortyTwo from "./answer.js";\nimport * as all from "./middle.js";\nimport named, { Klass } from "./lib.js";\n'
        'import "./side.js";\n'
        + _returning("[fortyTwo, named(), all.a, all.b, all.d, all.rest, all.renamed, all.ns.hidden, all.ns['odd-name'], "
                     "typeof Klass, 'default' in all, globalThis.sideEffect]")
    )
    side = "globalThis.sideEffect = 'ran first';"
    modules = {"lib.js": lib, "middle.js": middle, "side.js": side, "answer.js": "export default 40 + 2;", "main.js": main}
    assert run(modules) == [
        42, "default", 1, 2, 4, {"e": 5}, 1, "x", "x", "function", False, "ran first",
    ]


def test_dynamic_import_and_import_meta():
    main = (
        "let loaded; import('./lazy.js').then((m) => { loaded = m.value; });\n"
        "export const q = { isQuery: true, isPublic: true, invokeQuery: async () => { await null; "
        "return JSON.stringify([loaded, import.meta.url]); } };"
    )
    assert run({"lazy.js": "export const value = 'lazy';", "main.js": main}) == ["lazy", "convex:/main.js"]


def test_characters_outside_the_bmp_survive_in_strings_templates_and_regexes():
    main = "// a comment with 😀\nconst s = '😀', t = `x😀${1}`, ok = /😀/.test(s);\n" + _returning("[s, t, ok, s.codePointAt(0)]")
    assert run({"main.js": main}) == ["😀", "x😀1", True, 0x1F600]


def test_a_syntax_error_names_the_module_and_position():
    with pytest.raises(ModuleLoadError, match=r"Failed to analyze broken\.js: SyntaxError at line 2"):
        to_script("broken.js", "const a = 1;\nconst = ;\n")


def test_top_level_await_and_bare_imports_are_refused_clearly():
    with pytest.raises(ModuleLoadError, match="top-level await"):
        to_script("tla.js", "for (const x of [1]) { await x; }")
    with pytest.raises(ModuleLoadError, match="only modules of the same push"):
        to_script("bare.js", 'import x from "lodash";')


def test_a_missing_module_fails_the_call_with_its_name():
    isolate = Isolate({"main.js": to_script("main.js", 'import { x } from "./gone.js";\n' + _returning("x"))}, lambda op, args: "null")
    try:
        outcome = isolate.invoke("main.js", "q", "Query", "[{}]", 1, 0.0)
    finally:
        isolate.close()
    assert not outcome.ok and "Module not found: gone.js" in outcome.message
