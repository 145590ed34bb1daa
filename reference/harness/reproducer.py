"""Turn the calls recorded for a failing example into a few lines of plain Python.

The reproducer imports the target and the reference, rebuilds the failing
inputs as literals, calls both and prints both results, so that a user can
paste it into an issue or a debugger. It runs as printed from any directory:
a target file is named by its absolute path, a target module is found from
the absolute directory `drlspec verify` resolved it from, our own code is
imported by its installed name (``drlspec...``), and a numpy-backend target
gets numpy arrays built as numpy (the reference gets them as tensors).
"""

from __future__ import annotations

import importlib.util
import os
import re
import site
import sys
import sysconfig
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drlspec.harness.target import Call, Target

__all__ = ["reproducer"]


def _literal(value: Any, backend: str = "torch") -> str:
    """Python source that rebuilds ``value``: a tensor, or for ``backend`` numpy an ndarray."""
    custom = getattr(value, "__drlspec_repro__", None)
    if callable(custom):
        return custom()
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu().tolist()
        if backend == "numpy":
            dtype = str(value.dtype).removeprefix("torch.")
            dtype = "bool_" if dtype == "bool" else dtype  # numpy 1.24-1.26 have no np.bool
            return f"np.array({data!r}, dtype=np.{dtype})"
        dtype = str(value.dtype)
        device = "" if value.device.type == "cpu" else f", device={str(value.device)!r}"
        return f"torch.tensor({data!r}, dtype={dtype}{device})"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v, backend) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner},)"
    return f"{value!r}  # not a literal: rebuild this object by hand"


def _is_file_spec(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def _installed_roots() -> set[str]:
    """Directories every interpreter of this environment searches anyway."""
    roots = {sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib", "platstdlib")}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:  # some virtualenvs' site module lacks it
        pass
    return {os.path.abspath(r) for r in roots}


def _module_root(module: str) -> str | None:
    """The absolute directory ``module`` was imported from (the one to put on ``sys.path``)."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None)
    if origin is None:
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        origin = found.origin if found is not None else None
    if not origin or not os.path.exists(origin):  # built-in, frozen, namespace package
        return None
    path = Path(os.path.abspath(origin))
    if path.name == "__init__.py":
        path = path.parent
    root = path.parent
    for _ in range(module.count(".")):
        root = root.parent
    return str(root)


def _import_line(spec: str, alias: str) -> str:
    module, _, attr = spec.rpartition(":")
    if _is_file_spec(module):
        # Absolute, so that the reproducer runs from any directory.
        return (
            "import importlib.util\n"
            f"_spec = importlib.util.spec_from_file_location('target_module', "
            f"{os.path.abspath(module)!r})\n"
            "_module = importlib.util.module_from_spec(_spec)\n"
            "_spec.loader.exec_module(_module)\n"
            f"{alias} = _module.{attr}"
        )
    lines = []
    if module.split(".")[0] != "drlspec":
        # `drlspec verify` resolved the module from a directory (the one it ran in, as a
        # rule) that another directory's interpreter would not search.
        root = _module_root(module) or os.getcwd()
        if root not in _installed_roots():
            lines += ["import sys", f"sys.path.insert(0, {root!r})"]
    head, _, rest = attr.partition(".")
    lines.append(f"from {module} import {head} as {alias}")
    if rest:
        lines.append(f"{alias} = {alias}.{rest}")
    return "\n".join(lines)


def reproducer(target: Target, calls: list[Call], property_name: str) -> str:
    """Plain Python that replays ``calls`` on the target and on the reference."""
    contract = target.contract
    lines = [
        f"# drlspec reproducer: contract {contract.name}, property {property_name}",
        "import torch",
    ]
    if target.backend == "numpy":
        lines.append("import numpy as np")
    lines.append(_import_line(target.spec, "target"))
    compare = not target.is_reference
    if compare:
        lines.append(_import_line(contract.reference, "reference"))
    lines.append("")

    numpy = target.backend == "numpy"
    for number, call in enumerate(calls):
        names = contract.argument_names(call.name)
        arg_names = []
        for position, value in enumerate(call.args):
            base = names[position] if position < len(names) else f"arg{position}"
            if isinstance(value, (torch.Tensor, np.ndarray)) or callable(value):
                variable = f"{base}_{number}" if len(calls) > 1 else base
                lines.append(f"{variable} = {_literal(value, target.backend)}")
                arg_names.append(variable)
            else:
                arg_names.append(_literal(value, target.backend))
        target_args = ", ".join(arg_names)
        # The reference is torch: it gets a tensor copy of each array the target got.
        reference_args = ", ".join(
            f"torch.tensor({a})" if numpy and isinstance(v, (torch.Tensor, np.ndarray)) else a
            for a, v in zip(arg_names, call.args, strict=True)
        )
        if contract.kind == "class" and call.instance is not None and call.name != contract.name:
            owner, reference_owner = f"obj{call.instance}.", f"ref{call.instance}."
        else:
            owner, reference_owner = "", ""
        if call.name == contract.name:  # a constructor
            lines.append(f"obj{call.instance} = target({target_args})")
            if compare:
                lines.append(f"ref{call.instance} = reference({reference_args})")
            continue
        function = "target" if call.name == "f" else f"{owner}{call.name}"
        reference_function = "reference" if call.name == "f" else f"{reference_owner}{call.name}"
        lines.append(f"print('target:   ', {function}({target_args}))")
        if compare:
            lines.append(f"print('reference:', {reference_function}({reference_args}))")
    text = "\n".join(lines) + "\n"
    if re.search(r"\b(nan|inf)\b", text.split("\n", 1)[1]):
        # Non-finite inputs print as bare nan/inf in the literals.
        lines.insert(1, "from math import inf, nan")
        text = "\n".join(lines) + "\n"
    return text
