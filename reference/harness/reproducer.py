"""Turn the calls recorded for a failing example into a few lines of plain Python.

The reproducer imports the target and the reference, rebuilds the failing
inputs as literals, calls both and prints both results, so that a user can
paste it into an issue or a debugger.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from drlspec.harness.target import Call, Target

__all__ = ["reproducer"]


def _literal(value: Any) -> str:
    """Python source that rebuilds ``value`` as a torch object (numpy later, per backend)."""
    custom = getattr(value, "__drlspec_repro__", None)
    if callable(custom):
        return custom()
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu().tolist()
        dtype = str(value.dtype)
        device = "" if value.device.type == "cpu" else f", device={str(value.device)!r}"
        return f"torch.tensor({data!r}, dtype={dtype}{device})"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner},)"
    return f"{value!r}  # not a literal: rebuild this object by hand"


def _import_line(spec: str, alias: str) -> str:
    module, _, attr = spec.rpartition(":")
    if module.endswith(".py") or "/" in module:
        return (
            "import importlib.util\n"
            f"_spec = importlib.util.spec_from_file_location('target_module', {module!r})\n"
            "_module = importlib.util.module_from_spec(_spec)\n"
            "_spec.loader.exec_module(_module)\n"
            f"{alias} = _module.{attr}"
        )
    lines = []
    if module.split(".")[0] != "drlspec":
        # `drlspec verify` resolved the module from the directory it ran in.
        lines += ["import sys", f"sys.path.insert(0, {os.getcwd()!r})"]
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

    numpy_suffix = ".numpy()" if target.backend == "numpy" else ""
    for number, call in enumerate(calls):
        names = contract.argument_names(call.name)
        arg_names = []
        for position, value in enumerate(call.args):
            base = names[position] if position < len(names) else f"arg{position}"
            if isinstance(value, (torch.Tensor, np.ndarray)) or callable(value):
                variable = f"{base}_{number}" if len(calls) > 1 else base
                lines.append(f"{variable} = {_literal(value)}")
                arg_names.append(variable)
            else:
                arg_names.append(_literal(value))
        target_args = ", ".join(
            a + numpy_suffix if isinstance(v, (torch.Tensor, np.ndarray)) else a
            for a, v in zip(arg_names, call.args, strict=True)
        )
        reference_args = ", ".join(arg_names)
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
    return "\n".join(lines) + "\n"
