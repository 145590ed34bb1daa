"""A user's mistakes, found before anything heavy is imported or run.

``drlspec verify CONTRACT TARGET`` answers a usage error (an unknown
contract, a target that does not exist, a function with the wrong number of
parameters, a class where the contract is a function) with one line and
exit status 2. Most of those answers need neither torch nor the target's
import: this module reads the target's *source* (:func:`check_target`) and
the property file's source (:func:`property_names`), so that they arrive in
a fraction of a second. What the source cannot settle (a decorated function,
a name bound by an import, a compiled kernel) is left to
:func:`check_signature`, which the sandboxed child runs on the imported
object before the first property; the target's module is imported only
there, once.

Both checks are conservative: where they cannot tell, they say nothing, so
that no correct implementation is ever refused for how it is written.
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import importlib.machinery
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any

from drlspec.contracts import Contract

__all__ = [
    "UsageError",
    "check_signature",
    "check_target",
    "property_names",
    "select_properties",
    "split_target",
]


class UsageError(Exception):
    """A user's mistake (unknown contract, target not importable, ...): one line, exit 2."""


# ---------------------------------------------------------------------------
# The target's name
# ---------------------------------------------------------------------------


def split_target(spec: str) -> tuple[str, str, bool]:
    """``(module or file, attribute, is_file)`` of ``package.module:attr`` or ``file.py:attr``."""
    module_part, sep, attr_part = spec.rpartition(":")
    if not sep or not module_part or not attr_part:
        raise UsageError(f"target {spec!r} must look like package.module:attr or path/file.py:attr")
    is_file = module_part.endswith(".py") or os.sep in module_part
    return module_part, attr_part, is_file


def _find_module_source(module: str) -> Path | None:
    """The source file of ``module``, found as ``import`` would find it, without executing it.

    ``importlib.util.find_spec`` imports a dotted name's parent packages (running
    their ``__init__``); this asks the meta-path finders one level at a time
    instead, with the current directory on the path as ``load_object`` puts it.
    Raises :class:`UsageError` when no finder knows the module; returns ``None``
    when it has no Python source to read (an extension module) or a finder fails.
    """
    top_level_path = [os.getcwd(), *sys.path]
    path: list[str] | None = None
    spec = None
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            search = (
                top_level_path if depth == 1 and finder is importlib.machinery.PathFinder else path
            )
            try:
                spec = find(name, search)
            except Exception:
                return None  # a finder this check does not understand: the import will tell
            if spec is not None:
                break
        if spec is None:
            raise UsageError(f"cannot import module {module!r}: No module named {name!r}")
        path = list(spec.submodule_search_locations or []) or None
        if depth < len(parts) and path is None:
            raise UsageError(f"cannot import module {module!r}: {name!r} is not a package")
    origin = getattr(spec, "origin", None)
    if origin and origin.endswith(".py") and os.path.isfile(origin):
        return Path(origin)
    return None


# ---------------------------------------------------------------------------
# Reading the target's source
# ---------------------------------------------------------------------------


class _Bindings(ast.NodeVisitor):
    """The statements of a module's own scope that bind one name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[ast.AST] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name == self.name:
            self.found.append(node)
        # not its body: another scope

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name == self.name:
            self.found.append(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*" or (alias.asname or alias.name.split(".")[0]) == self.name:
                self.found.append(node)

    visit_ImportFrom = visit_Import

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == self.name and not isinstance(node.ctx, ast.Load):
            self.found.append(node)


def _bindings(tree: ast.Module, name: str) -> list[ast.AST]:
    """Every node in the module's own scope (not inside a def or class) that binds ``name``."""
    visitor = _Bindings(name)
    visitor.visit(tree)
    return visitor.found


def _describe_arguments(
    arguments: ast.arguments, skip_first: bool
) -> tuple[list[str], int, bool, list[str]]:
    """(positional names, how many have defaults, has *args, required keyword-only names)."""
    positional = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
    if skip_first and positional:
        positional = positional[1:]
    defaults = min(len(arguments.defaults), len(positional))
    required_keywords = [
        a.arg
        for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        if default is None
    ]
    return positional, defaults, arguments.vararg is not None, required_keywords


def _arity_problem(
    positional: list[str], defaults: int, varargs: bool, required_keywords: list[str], count: int
) -> str | None:
    """Why a callable with these parameters cannot be called with ``count`` positional arguments."""
    if required_keywords:
        return f"requires keyword-only argument(s) {', '.join(required_keywords)}"
    least = len(positional) - defaults
    if count < least or (count > len(positional) and not varargs):
        takes = f"{len(positional)}" if defaults == 0 else f"{least} to {len(positional)}"
        if varargs:
            takes = f"at least {least}"
        listed = f" ({', '.join(positional)})" if positional else ""
        return f"takes {takes} positional argument{'s' if takes != '1' else ''}{listed}"
    return None


def _call_shape(contract: Contract, name: str) -> str:
    """How the contract calls ``name`` ("f", the class, or a method), as the signature writes it."""
    arguments = contract.argument_names(name)
    label = {"f": "it", contract.class_name: "the constructor"}.get(name, f".{name}()")
    return f"calls {label} with {len(arguments)} argument{'s' if len(arguments) != 1 else ''}" + (
        f" ({', '.join(arguments)})" if arguments else ""
    )


def _check_class_source(contract: Contract, spec: str, node: ast.ClassDef) -> None:
    methods = {
        statement.name: statement
        for statement in node.body
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    has_bases = any(not (isinstance(b, ast.Name) and b.id == "object") for b in node.bases)
    if node.decorator_list or node.keywords or "__getattr__" in methods or "__new__" in methods:
        return  # a dataclass, a metaclass, a proxy: the source does not say what the class takes
    checks = [(contract.class_name, "__init__"), *((m, m) for m in contract.methods)]
    for contract_name, method_name in checks:
        method = methods.get(method_name)
        if method is None:
            if has_bases:
                continue  # may be inherited
            if method_name == "__init__":
                positional, defaults, varargs, keywords = [], 0, False, []
            else:
                raise UsageError(
                    f"{spec} has no method {method_name!r}; contract {contract.name} uses "
                    f"{contract.signature}"
                )
        else:
            decorators = [d.id for d in method.decorator_list if isinstance(d, ast.Name)]
            if len(decorators) != len(method.decorator_list) or not set(decorators) <= {
                "staticmethod",
                "classmethod",
            }:
                continue
            positional, defaults, varargs, keywords = _describe_arguments(
                method.args, skip_first="staticmethod" not in decorators
            )
        problem = _arity_problem(
            positional, defaults, varargs, keywords, len(contract.argument_names(contract_name))
        )
        if problem is not None:
            what = "its constructor" if method_name == "__init__" else f"its .{method_name}()"
            raise UsageError(
                f"{spec}: {what} {problem}, but contract {contract.name} "
                f"{_call_shape(contract, contract_name)}"
            )


# What a module may use to bind names its source never spells out.
_MAKES_NAMES = re.compile(r"\b(globals|vars|setattr|exec|locals)\s*\(|__dict__")


def _check_source(contract: Contract, spec: str, source: str, filename: str, attr: str) -> None:
    module_part = spec.rpartition(":")[0]
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise UsageError(f"importing {module_part!r} raised SyntaxError: {error}") from None
    head = attr.split(".")[0]
    if head.startswith("__") and head.endswith("__"):
        return  # __doc__, __file__, ...: every module has them without binding them
    bindings = _bindings(tree, head)
    if not bindings:
        module_getattr = any(
            isinstance(s, ast.FunctionDef) and s.name == "__getattr__" for s in tree.body
        )
        # A name may still be made at run time (globals()[...] = ..., setattr on the
        # module): only a name that the source never mentions, in a module that makes
        # no names that way, is certainly missing.
        mentioned = re.search(rf"\b{re.escape(head)}\b", source) is not None
        if not module_getattr and not mentioned and not _MAKES_NAMES.search(source):
            defined = [
                s.name
                for s in tree.body
                if isinstance(s, (ast.FunctionDef, ast.ClassDef)) and not s.name.startswith("_")
            ]
            close = difflib.get_close_matches(head, defined, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"{module_part!r} has no attribute {attr!r}{hint}")
        return
    if len(bindings) != 1 or attr != head:
        return  # bound more than once, or a dotted attribute: the import will tell
    node = bindings[0]
    if isinstance(node, ast.ClassDef):
        if contract.kind == "function":
            raise UsageError(
                f"{spec} is a class, but contract {contract.name} is a function: "
                f"{contract.signature}"
            )
        _check_class_source(contract, spec, node)
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if contract.kind == "class":
            raise UsageError(
                f"{spec} is a function, but contract {contract.name} is a class: "
                f"{contract.signature}"
            )
        if node.decorator_list:
            return  # a decorator may change what the function takes
        problem = _arity_problem(
            *_describe_arguments(node.args, skip_first=False),
            len(contract.argument_names("f")),
        )
        if problem is not None:
            raise UsageError(
                f"{spec} {problem}, but contract {contract.name} {_call_shape(contract, 'f')}: "
                f"{contract.signature}"
            )


def check_target(contract: Contract, spec: str) -> None:
    """Refuse ``spec`` for ``contract`` now if its source shows a usage error.

    Reads, never imports: a missing module or file, a syntax error, a
    missing attribute, a class for a function contract (or the reverse),
    and a plain ``def`` whose parameters cannot take the contract's
    arguments. Silent wherever the source cannot settle it.
    """
    module_part, attr, is_file = split_target(spec)
    if is_file:
        path = Path(module_part)
        if not path.is_file():
            raise UsageError(f"target file {module_part!r} does not exist")
        source_path: Path | None = path
    else:
        source_path = _find_module_source(module_part)
    if source_path is None:
        return
    try:
        source = source_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    _check_source(contract, spec, source, str(source_path), attr)


# ---------------------------------------------------------------------------
# The imported object
# ---------------------------------------------------------------------------


def _signature_problem(function: Any, count: int) -> str | None:
    """Why ``function`` cannot be called with ``count`` positional arguments (None: it can,
    or Python cannot tell, as for many compiled functions)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*[None] * count)
    except TypeError:
        parameters = list(signature.parameters.values())
        required_keywords = [
            p.name
            for p in parameters
            if p.kind is p.KEYWORD_ONLY and p.default is inspect.Parameter.empty
        ]
        positional = [
            p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        return (
            _arity_problem(
                [p.name for p in positional],
                sum(p.default is not inspect.Parameter.empty for p in positional),
                any(p.kind is p.VAR_POSITIONAL for p in parameters),
                required_keywords,
                count,
            )
            or f"cannot be called with {count} positional arguments ({signature})"
        )
    return None


def check_signature(contract: Contract, obj: Any, spec: str) -> None:
    """Refuse the imported ``obj`` if it cannot be called the way ``contract`` calls it."""
    if contract.kind == "function":
        if isinstance(obj, type):
            raise UsageError(
                f"{spec} is a class, but contract {contract.name} is a function: "
                f"{contract.signature}"
            )
        if not callable(obj):
            raise UsageError(f"{spec} is not callable (got {type(obj).__name__})")
        problem = _signature_problem(obj, len(contract.argument_names("f")))
        if problem is not None:
            raise UsageError(
                f"{spec} {problem}, but contract {contract.name} {_call_shape(contract, 'f')}: "
                f"{contract.signature}"
            )
        return
    if not isinstance(obj, type):
        raise UsageError(
            f"{spec} must be a class for contract {contract.name}, got "
            f"{type(obj).__name__}: {contract.signature}"
        )
    problem = _signature_problem(obj, len(contract.argument_names(contract.class_name)))
    if problem is not None:
        raise UsageError(
            f"{spec}: its constructor {problem}, but contract {contract.name} "
            f"{_call_shape(contract, contract.class_name)}"
        )
    if hasattr(obj, "__getattr__"):
        return  # methods may come from the proxy
    for method in contract.methods:
        if not hasattr(obj, method):
            raise UsageError(
                f"{spec} has no method {method!r}; contract {contract.name} uses "
                f"{contract.signature}"
            )
        static = inspect.getattr_static(obj, method)
        function = getattr(obj, method)
        count = len(contract.argument_names(method))
        if inspect.isfunction(static):
            # A plain function read off the class still takes self: bind it to a stand-in.
            function = function.__get__(object())
        problem = _signature_problem(function, count)
        if problem is not None:
            raise UsageError(
                f"{spec}: its .{method}() {problem}, but contract {contract.name} "
                f"{_call_shape(contract, method)}"
            )


# ---------------------------------------------------------------------------
# A contract's properties, by name
# ---------------------------------------------------------------------------


def property_names(contract: Contract) -> list[tuple[str, str]]:
    """``(name, first docstring line)`` of each property, read from the property file's source."""
    if not contract.implemented:
        raise UsageError(f"contract {contract.name} has no properties yet")
    tree = ast.parse(contract.property_file.read_text(encoding="utf-8"))
    found = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef) and statement.name.startswith("test_"):
            docstring = ast.get_docstring(statement) or ""
            found.append((statement.name, docstring.strip().splitlines()[0] if docstring else ""))
    return found


def select_properties(contract: Contract, patterns: list[str]) -> list[str]:
    """The property names that ``patterns`` select, in the module's order.

    A pattern is a property name with or without its ``test_`` prefix, or a
    shell-style wildcard (``'*gradient*'``). Each pattern must select
    something: a typo is a usage error, not an empty (passing) run.
    """
    names = [name for name, _ in property_names(contract)]
    chosen: set[str] = set()
    for pattern in patterns:
        if not pattern:
            raise UsageError("--property needs a name")
        candidates = {pattern, f"test_{pattern}"}
        matched = {
            name
            for name in names
            if name in candidates or any(fnmatch.fnmatchcase(name, c) for c in candidates)
        }
        if not matched:
            close = difflib.get_close_matches(f"test_{pattern.removeprefix('test_')}", names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UsageError(
                f"contract {contract.name} has no property matching {pattern!r}{hint}; "
                f"`drlspec verify {contract.name} --list` shows them"
            )
        chosen |= matched
    return [name for name in names if name in chosen]
