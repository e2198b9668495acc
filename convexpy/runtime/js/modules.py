"""Pushed ES modules as scripts V8 can run: a real parse, imports made live, exports as getters.

The CLI pushes esbuild's ES-module output (``format: "esm"``, split into
``_deps/`` chunks). The V8 binding runs scripts, not modules, so each module is
rewritten once, at push time, into a function the loader in ``runtime.js``
calls with its imports::

    (function (__convex_require, __convex_dynamic_import, __convex_meta, __convex_define) {"use strict"; ...body...
    })

The rewrite works on tree-sitter's syntax tree, never on text patterns: import
declarations become ``const __convex_m0 = __convex_require("./_deps/X.js")`` at
the top; every reference to an imported binding that no inner scope shadows
becomes a member access (``a`` -> ``__convex_m0.a``), so imports stay live
bindings as ES modules require (esbuild's minified output reuses short names
in inner scopes, hence the scope analysis); exports become getters handed to
``__convex_define`` before the body runs. Removed text is replaced by the same
line breaks, so line numbers in stack traces stay those of the pushed source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from posixpath import dirname, join, normpath

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

from ...errors import ModuleLoadError
from .ascii import ASTRAL, escape_astral

_LANGUAGE = Language(tree_sitter_javascript.language())

_FUNCTIONS = {"function_declaration", "generator_function_declaration", "function_expression", "function",
              "generator_function", "arrow_function", "method_definition"}
_BLOCKS = {"statement_block", "for_statement", "for_in_statement", "catch_clause", "switch_body", "class_body"}


@dataclass
class ModuleScript:
    """One module, rewritten: ``script`` evaluates to its factory function."""

    path: str
    script: str


def resolve(importer: str, specifier: str) -> str:
    """The path of ``specifier`` imported from ``importer`` (both relative to the functions folder)."""
    if not specifier.startswith("."):
        raise ModuleLoadError(f"Cannot import {specifier!r} from {importer}: only modules of the same push can be imported")
    return normpath(join(dirname(importer), specifier))


class _Scope:
    def __init__(self, parent: "_Scope | None", is_function: bool):
        self.parent = parent
        self.is_function = is_function
        self.names: set[str] = set()

    def function_scope(self) -> "_Scope":
        scope = self
        while not scope.is_function:
            assert scope.parent is not None
            scope = scope.parent
        return scope


class _Rewriter:
    def __init__(self, path: str, source: bytes):
        self.path = path
        self.source = source
        self.tree = Parser(_LANGUAGE).parse(source)
        self.root = self.tree.root_node
        self.module_scope = _Scope(None, is_function=True)
        self.scopes: dict[int, _Scope] = {self.root.id: self.module_scope}
        self.edits: list[tuple[int, int, str]] = []
        self.requires: list[str] = []
        """Specifiers, one per ``__convex_mN``."""
        self.imported: dict[str, str] = {}
        """Local name of an import -> the expression that reads it (``__convex_m0.a``)."""
        self.getters: list[tuple[str, str]] = []
        self.stars: list[str] = []

    def text(self, node: Node) -> str:
        return self.source[node.start_byte:node.end_byte].decode()

    # --- syntax errors, and what is not supported --------------------------------------

    def check(self) -> None:
        if self.root.has_error:
            bad = _first_error(self.root)
            line, column = (bad.start_point if bad is not None else (0, 0))
            raise ModuleLoadError(f"Failed to analyze {self.path}: SyntaxError at line {line + 1}, column {column + 1}")

    def escape_astral(self, node: Node) -> None:
        """Characters outside the BMP as escapes (the V8 binding mangles them in source text).

        esbuild escapes them itself (its default charset is ASCII), so this runs only for
        sources written otherwise. Surrogate-pair escapes mean the same in strings, templates
        and regular expressions; in comments the characters are dropped.
        """
        text = self.text(node)
        if node.type in ("string_fragment", "regex_pattern", "comment") and ASTRAL.search(text):
            self.edits.append((node.start_byte, node.end_byte, ASTRAL.sub("?", text) if node.type == "comment" else escape_astral(text)))
            return
        if node.child_count == 0 and ASTRAL.search(text):
            line = node.start_point[0] + 1
            raise ModuleLoadError(f"Failed to analyze {self.path}: unsupported character outside strings at line {line}")
        for child in node.children:
            self.escape_astral(child)

    # --- pass 1: what each scope declares ------------------------------------------------

    def declare(self, node: Node, scope: _Scope) -> None:
        kind = node.type
        if kind in _FUNCTIONS:
            inner = self.scopes[node.id] = _Scope(scope, is_function=True)
            name = node.child_by_field_name("name")
            if name is not None and kind in ("function_declaration", "generator_function_declaration"):
                scope.names.add(self.text(name))
            elif name is not None and kind in ("function_expression", "function", "generator_function"):
                inner.names.add(self.text(name))
            for parameter in _parameters(node):
                inner.names.update(self.bound_names(parameter))
            for child in node.children:
                if child.type == "statement_block":  # the body shares the function's scope
                    self.scopes[child.id] = inner
                    for statement in child.children:
                        self.declare(statement, inner)
                elif child.type != "formal_parameters":
                    self.declare(child, inner)
            for parameters in node.children:
                if parameters.type == "formal_parameters":
                    for parameter in parameters.children:
                        self.declare(parameter, inner)  # default values may hold functions
            return
        if kind in ("class_declaration", "class"):
            name = node.child_by_field_name("name")
            inner = _Scope(scope, is_function=False)
            if name is not None:
                (scope if kind == "class_declaration" else inner).names.add(self.text(name))
            self.scopes[node.id] = inner
            scope = inner
        elif kind in _BLOCKS and node.id not in self.scopes:
            scope = self.scopes[node.id] = _Scope(scope, is_function=False)
            if kind == "catch_clause":
                parameter = node.child_by_field_name("parameter")
                if parameter is not None:
                    scope.names.update(self.bound_names(parameter))
            elif kind == "for_in_statement":
                left = node.child_by_field_name("left")
                declared = node.child_by_field_name("kind")
                if left is not None and declared is not None:
                    target = scope if self.text(declared) in ("let", "const") else scope.function_scope()
                    target.names.update(self.bound_names(left))
        elif kind == "variable_declaration":
            for declarator in node.children:
                if declarator.type == "variable_declarator":
                    scope.function_scope().names.update(self.bound_names(declarator.child_by_field_name("name")))
        elif kind == "lexical_declaration":
            for declarator in node.children:
                if declarator.type == "variable_declarator":
                    scope.names.update(self.bound_names(declarator.child_by_field_name("name")))
        elif kind == "await_expression" and scope.function_scope() is self.module_scope:
            line = node.start_point[0] + 1
            raise ModuleLoadError(f"Failed to analyze {self.path}: top-level await (line {line}) is not supported")
        for child in node.children:
            self.declare(child, scope)

    def bound_names(self, pattern: Node | None) -> list[str]:
        if pattern is None:
            return []
        kind = pattern.type
        if kind in ("identifier", "shorthand_property_identifier_pattern"):
            return [self.text(pattern)]
        if kind in ("object_pattern", "array_pattern"):
            return [name for child in pattern.children for name in self.bound_names(child)]
        if kind == "pair_pattern":
            return self.bound_names(pattern.child_by_field_name("value"))
        if kind in ("assignment_pattern", "object_assignment_pattern"):
            return self.bound_names(pattern.child_by_field_name("left"))
        if kind == "rest_pattern":
            return [name for child in pattern.children for name in self.bound_names(child)]
        return []

    # --- module-level imports and exports -------------------------------------------------

    def require(self, specifier: Node) -> str:
        self.requires.append(_unquote(self.text(specifier)))
        return f"__convex_m{len(self.requires) - 1}"

    def blank(self, node: Node) -> None:
        """Remove a statement, keeping its line breaks."""
        self.edits.append((node.start_byte, node.end_byte, "\n" * self.text(node).count("\n")))

    def top_level(self) -> None:
        for node in self.root.children:
            if node.type == "import_statement":
                self.import_statement(node)
            elif node.type == "export_statement":
                self.export_statement(node)

    def import_statement(self, node: Node) -> None:
        module = self.require(node.child_by_field_name("source"))
        for clause in node.children:
            if clause.type != "import_clause":
                continue
            for part in clause.children:
                if part.type == "identifier":
                    self.imported[self.text(part)] = f"{module}.default"
                elif part.type == "namespace_import":
                    self.imported[self.text(_last_identifier(part))] = module
                elif part.type == "named_imports":
                    for specifier in part.children:
                        if specifier.type == "import_specifier":
                            name = specifier.child_by_field_name("name")
                            alias = specifier.child_by_field_name("alias") or name
                            self.imported[self.text(alias)] = f"{module}[{json.dumps(_name(self.text(name)))}]"
        self.blank(node)

    def export_statement(self, node: Node) -> None:
        source = node.child_by_field_name("source")
        declaration = node.child_by_field_name("declaration")
        is_default = any(child.type == "default" for child in node.children)
        if source is not None:
            module = self.require(source)
            for child in node.children:
                if child.type == "export_clause":
                    for name, alias in self.specifiers(child):
                        self.getters.append((_name(alias), f"{module}[{json.dumps(_name(name))}]"))
                elif child.type == "namespace_export":
                    self.getters.append((_name(self.text(_last_identifier(child))), module))
            if not any(child.type in ("export_clause", "namespace_export") for child in node.children):
                self.stars.append(module)
            self.blank(node)
            return
        if declaration is not None:
            self.edits.append((node.start_byte, declaration.start_byte, ""))
            name = declaration.child_by_field_name("name")
            if is_default:
                if name is None:
                    raise ModuleLoadError(f"Failed to analyze {self.path}: an anonymous default export declaration is not supported")
                self.getters.append(("default", self.text(name)))
            elif declaration.type in ("lexical_declaration", "variable_declaration"):
                for declarator in declaration.children:
                    if declarator.type == "variable_declarator":
                        for bound in self.bound_names(declarator.child_by_field_name("name")):
                            self.getters.append((bound, bound))
            elif name is not None:
                self.getters.append((self.text(name), self.text(name)))
            return
        if is_default:
            value = node.child_by_field_name("value")
            assert value is not None
            self.edits.append((node.start_byte, value.start_byte, "const __convex_default = "))
            self.getters.append(("default", "__convex_default"))
            return
        for child in node.children:
            if child.type == "export_clause":
                for local, alias in self.specifiers(child):
                    self.getters.append((_name(alias), self.imported.get(local, local)))
        self.blank(node)

    def specifiers(self, clause: Node) -> list[tuple[str, str]]:
        """``{ a as b, c }`` -> ``[("a", "b"), ("c", "c")]``."""
        found = []
        for specifier in clause.children:
            if specifier.type == "export_specifier":
                name = specifier.child_by_field_name("name")
                alias = specifier.child_by_field_name("alias") or name
                found.append((self.text(name), self.text(alias)))
        return found

    # --- pass 2: references to imports ------------------------------------------------------

    def rewrite_module(self) -> None:
        for node in self.root.children:
            if node.type == "import_statement":
                continue  # removed; its names became ``__convex_mN`` reads
            if node.type == "export_statement":
                kept = node.child_by_field_name("declaration") or node.child_by_field_name("value")
                if kept is not None:
                    self.rewrite_references(kept, self.module_scope)
                continue  # the rest of an export statement became getters
            self.rewrite_references(node, self.module_scope)

    def rewrite_references(self, node: Node, scope: _Scope) -> None:
        scope = self.scopes.get(node.id, scope)
        kind = node.type
        if kind == "identifier" or kind == "shorthand_property_identifier":
            name = self.text(node)
            if name in self.imported and self.resolves_to_module(name, scope):
                replacement = self.imported[name]
                if kind == "shorthand_property_identifier":
                    replacement = f"{name}: {replacement}"
                self.edits.append((node.start_byte, node.end_byte, replacement))
            return
        if kind == "call_expression":
            function = node.child_by_field_name("function")
            if function is not None and function.type == "import":
                self.edits.append((function.start_byte, function.end_byte, "__convex_dynamic_import"))
        elif kind == "meta_property":
            self.edits.append((node.start_byte, node.end_byte, "__convex_meta"))
            return
        for child in node.children:
            self.rewrite_references(child, scope)

    def resolves_to_module(self, name: str, scope: _Scope) -> bool:
        current: _Scope | None = scope
        while current is not None and current is not self.module_scope:
            if name in current.names:
                return False
            current = current.parent
        return name not in self.module_scope.names

    # --- output ------------------------------------------------------------------------------

    def script(self) -> str:
        out = self.source
        for start, end, replacement in sorted(self.edits, key=lambda edit: edit[0], reverse=True):
            out = out[:start] + replacement.encode() + out[end:]
        head = "".join(f"const __convex_m{n} = __convex_require({json.dumps(spec)});" for n, spec in enumerate(self.requires))
        getters = ",".join(f"{json.dumps(name)}: () => {expression}" for name, expression in self.getters)
        define = f"__convex_define({{{getters}}}, [{', '.join(self.stars)}]);"
        return ("(function (__convex_require, __convex_dynamic_import, __convex_meta, __convex_define) {\"use strict\";"
                + head + define + out.decode() + "\n})")


def to_script(path: str, source: str) -> ModuleScript:
    """Rewrite one pushed ES module. :class:`ModuleLoadError` for a syntax error or what is not supported."""
    rewriter = _Rewriter(path, source.encode())
    rewriter.check()
    if not source.isascii():
        rewriter.escape_astral(rewriter.root)
    rewriter.declare(rewriter.root, rewriter.module_scope)
    rewriter.top_level()
    for name in rewriter.imported:
        rewriter.module_scope.names.discard(name)
    rewriter.rewrite_module()
    for specifier in rewriter.requires:
        resolve(path, specifier)  # refuses imports from outside the push now, not when a call first loads it
    return ModuleScript(path, rewriter.script())


def _parameters(node: Node) -> list[Node]:
    single = node.child_by_field_name("parameter")
    if single is not None:
        return [single]
    parameters = node.child_by_field_name("parameters")
    return [] if parameters is None else [child for child in parameters.children if child.is_named]


def _last_identifier(node: Node) -> Node:
    found = [child for child in node.children if child.type in ("identifier", "string")]
    return found[-1]


def _name(text: str) -> str:
    """An export name: an identifier, or a string literal (``export { a as "b-c" }``)."""
    return _unquote(text) if text[:1] in ("'", '"') else text


def _unquote(literal: str) -> str:
    """A JavaScript string literal's value (esbuild writes double quotes; single ones are read too)."""
    if literal.startswith("'"):
        literal = '"' + literal[1:-1].replace("\\'", "'").replace('\\"', '"').replace('"', '\\"') + '"'
    return json.loads(literal)


def _first_error(node: Node) -> Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error:
            found = _first_error(child)
            if found is not None:
                return found
    return None
