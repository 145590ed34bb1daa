"""The implementation under test, wrapped so that every call is converted and recorded.

Properties never call an implementation directly: they call a :class:`Target`.
The target hands the implementation private copies of its inputs (converted
for its backend: torch tensors, or numpy arrays with results converted back),
so that the originals the property keeps for its oracle stay pristine; fails
the property, naming the argument, when the implementation wrote into an
input; turns an exception raised on valid input (``SystemExit`` included)
into a property failure; and records each call of the current hypothesis
example, from which the harness writes a reproducer.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drlspec.contracts import Contract
from drlspec.properties.assertions import note_result
from drlspec.usage import UsageError, check_signature, split_target

__all__ = [
    "Call",
    "ImplementationRaised",
    "InputModified",
    "ResultUnreadable",
    "Target",
    "UsageError",
    "declared_result",
    "from_backend",
    "load_object",
    "to_backend",
]


class ImplementationRaised(AssertionError):
    """The implementation raised on input the contract allows; the property fails."""

    def __init__(self, call: Call, error: BaseException) -> None:
        self.call = call
        self.error = error
        super().__init__(
            f"the implementation raised {type(error).__name__}: {error} (in call {call.describe()})"
        )


class InputModified(AssertionError):
    """The implementation wrote into one of its inputs: the contract forbids it."""

    def __init__(self, call: Call, argument: str) -> None:
        self.call = call
        self.argument = argument
        super().__init__(
            f"the implementation modified its input `{argument}` in place (in call "
            f"{call.describe()}); a contract's inputs are read-only"
        )


class ResultUnreadable(AssertionError):
    """The implementation returned something the contract's value cannot be read from."""

    def __init__(self, call: Call, returned: str, declared: str) -> None:
        self.call = call
        self.returned = returned
        super().__init__(f"{call.describe()} returned {returned}; {declared}")


def load_object(spec: str) -> Any:
    """Import ``package.module:attr`` or ``path/to/file.py:attr`` (attr may be dotted).

    Module paths are resolved with the current directory on ``sys.path``, as
    ``python -m`` does. Raises :class:`UsageError` with a one-line reason.
    """
    module_part, attr_part, is_file = split_target(spec)
    if is_file:
        path = Path(module_part)
        if not path.is_file():
            raise UsageError(f"target file {module_part!r} does not exist")
        module_name = f"drlspec_target_{path.stem}_{abs(hash(path.resolve()))}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise UsageError(f"cannot import {module_part!r} as a Python file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:
            raise UsageError(
                f"importing {module_part!r} raised {type(error).__name__}: {error}"
            ) from error
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as error:
            raise UsageError(f"cannot import module {module_part!r}: {error}") from error
        except Exception as error:
            raise UsageError(
                f"importing {module_part!r} raised {type(error).__name__}: {error}"
            ) from error
    obj: Any = module
    for name in attr_part.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise UsageError(f"{module_part!r} has no attribute {attr_part!r}") from None
    return obj


@dataclass
class Call:
    """One recorded call: a function call, a constructor, or a method of an instance."""

    name: str  # "f", "SumTree", or the method name
    args: tuple[Any, ...]  # the property's originals, from which the reproducer is written
    instance: int | None = None  # index of the constructed instance a method belongs to
    result: Any = None
    error: BaseException | None = None
    # What the implementation received: its private copies, in its backend's types.
    given: tuple[Any, ...] | None = None

    def describe(self) -> str:
        received = self.args if self.given is None else self.given
        shapes = ", ".join(_describe_value(a) for a in received)
        owner = f"instance{self.instance}." if self.instance is not None else ""
        return f"{owner}{self.name}({shapes})"


def _describe_value(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor{list(value.shape)}:{str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, np.ndarray):
        return f"ndarray{list(value.shape)}:{value.dtype}"
    if isinstance(value, list):
        return "[" + ", ".join(_describe_value(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_describe_value(v) for v in value) + ",)"
    return repr(value)


def to_backend(value: Any, backend: str) -> Any:
    if backend == "numpy" and isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, (list, tuple)):
        return type(value)(to_backend(v, backend) for v in value)
    return value


def _private_copy(value: Any, backend: str) -> Any:
    """What the implementation receives for ``value``: its own copy, in its backend's type.

    A tensor that requires grad is handed over as it is: the gradient
    properties differentiate through it, and autograd needs the very tensor
    (a callable argument such as the HVP's ``scalar_fn`` closes over it).
    Writing into it is caught afterwards by :func:`_modified`.
    """
    if isinstance(value, torch.Tensor):
        if backend == "numpy":
            return value.detach().cpu().numpy().copy()
        return value if value.requires_grad else value.clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_private_copy(v, backend) for v in value)
    return value


def _snapshot(value: Any) -> Any:
    """The values of the tensors handed over as they are, to compare after the call."""
    if isinstance(value, torch.Tensor) and value.requires_grad:
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return [_snapshot(v) for v in value]
    return None


def _same_values(given: Any, original: Any) -> bool:
    given_t = torch.as_tensor(given).detach().cpu()
    original_t = original.detach().cpu()
    if given_t.shape != original_t.shape:
        return False
    both_nan = torch.isnan(given_t.double()) & torch.isnan(original_t.double())
    return bool(((given_t.double() == original_t.double()) | both_nan).all())


def _modified(original: Any, given: Any, snapshot: Any) -> bool:
    """Whether the implementation wrote into its copy ``given`` or into a tensor it shares."""
    if isinstance(original, torch.Tensor):
        if snapshot is not None:
            return not _same_values(original, snapshot)
        return not _same_values(given, original)
    if isinstance(original, np.ndarray):
        return not _same_values(given, torch.from_numpy(original))
    if isinstance(original, (list, tuple)):
        if not isinstance(given, (list, tuple)) or len(given) != len(original):
            return True
        return any(_modified(o, g, s) for o, g, s in zip(original, given, snapshot, strict=True))
    return False


_GLOBAL_STATE_NAMES = ("grad mode", "default dtype")


def _torch_global_state() -> tuple:
    """The torch settings a kernel may switch inside a call but must give back."""
    return (torch.is_grad_enabled(), torch.get_default_dtype())


def _restore_torch_global_state(state: tuple) -> None:
    torch.set_grad_enabled(state[0])
    torch.set_default_dtype(state[1])


# The seed every call of an implementation starts from (docs/contracts.md, Conventions).
CALL_SEED = 0


@contextlib.contextmanager
def _seeded_random_state(given: list[Any]) -> Iterator[None]:
    """Run one call with torch's, numpy's and Python's global generators seeded, then restored.

    An implementation may draw random numbers (sb3-contrib's CG starts from a random
    vector): seeded, the same input gives the same output, so hypothesis judges the
    implementation instead of reporting a flaky test, and a verdict is reproducible.
    Restored, the draws never change the examples the properties generate next.
    """
    cuda = sorted({a.device.index or 0 for a in given if isinstance(a, torch.Tensor) and a.is_cuda})
    # numpy's legacy global generator is the one an implementation's np.random.* calls use.
    numpy_state = np.random.get_state()  # noqa: NPY002
    python_state = random.getstate()
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(CALL_SEED)
        np.random.seed(CALL_SEED)  # noqa: NPY002
        random.seed(CALL_SEED)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)  # noqa: NPY002
            random.setstate(python_state)


def _plain(value: Any) -> Any:
    """A tensor subclass as a plain tensor: what the properties compare must not override ``==``."""
    if isinstance(value, torch.Tensor) and type(value) is not torch.Tensor:
        return value.as_subclass(torch.Tensor)
    return value


_RESULT = r"->\s*(?P<result>\w*\[[^\]]*\]|\w+)"


def declared_result(contract: Contract, name: str = "f") -> str | None:
    """What the signature says call ``name`` returns: "[T,N]", "indices[K]", "scalar", "float".

    ``None`` for a constructor and for a method whose result the contract leaves open.
    """
    if name == "f":
        pattern = r"^\s*f\([^)]*\)\s*" + _RESULT
    else:
        pattern = r"\." + re.escape(name) + r"\([^)]*\)\s*" + _RESULT
    match = re.search(pattern, contract.signature)
    return match.group("result") if match else None


def _declared_phrase(contract: Contract, name: str, declared: str) -> str:
    owner = f"contract {contract.name}" if name == "f" else f"{contract.name}.{name}"
    if declared == "scalar":
        return f"{owner} returns a scalar (a 0-d tensor)"
    if "[" in declared:
        return f"{owner} returns an array {declared}"
    return f"{owner} returns a {declared}"


class _Unreadable(Exception):
    """Internal: the result is not array-like; the message says what it is instead."""


_NUMERIC_KINDS = "biuf"  # numpy dtype kinds the contracts' values can be read from


def _array(value: Any) -> torch.Tensor | np.ndarray:
    """``value`` as a tensor (kept as returned) or a numeric numpy array; else _Unreadable."""
    if isinstance(value, torch.Tensor):
        return _plain(value)
    tensors = isinstance(value, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in value)
    if tensors and value:
        try:
            return torch.stack([_plain(v) for v in value])
        except RuntimeError:
            raise _Unreadable(f"{type(value).__name__} of tensors of different shapes") from None
    if value is None or isinstance(value, (str, bytes, dict)):
        raise _Unreadable(type(value).__name__)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise _Unreadable(f"{type(value).__name__} that is not a regular array (ragged?)") from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        what = type(value).__name__
        if isinstance(value, (list, tuple)):
            what += " that is not a regular array of numbers"
        else:
            what += f" of dtype {array.dtype}"
        raise _Unreadable(what)
    # A copy in native byte order: torch shares neither the implementation's buffer nor
    # accepts a big-endian one. The dtype is kept: a float64 array stays float64, and a
    # list of Python floats becomes float64, never torch's float32 default.
    return np.array(array, dtype=array.dtype.newbyteorder("="), copy=True)


def _number(value: Any) -> float:
    """A result declared ``float``: a real number, a numpy scalar, or a 0-d array or tensor."""
    if isinstance(value, (bool, np.bool_)):
        raise _Unreadable(type(value).__name__)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        if value.ndim != 0:
            raise _Unreadable(f"{type(value).__name__} of shape {list(value.shape)}")
        numeric = (
            value.dtype != torch.bool and not value.is_complex()
            if isinstance(value, torch.Tensor)
            else value.dtype.kind in "iuf"
        )
        if not numeric:
            raise _Unreadable(f"{type(value).__name__} of dtype {value.dtype}")
        return float(value.item())
    raise _Unreadable(type(value).__name__)


def from_backend(
    value: Any, declared: str | None = None, device: torch.device | None = None
) -> Any:
    """The implementation's result as the properties read it (docs/contracts.md, Conventions).

    With ``declared`` (from :func:`declared_result`), the result is read as the contract
    declares it, whatever the backend: an array (or ``scalar``) from a torch tensor (kept
    as it is, gradient included), a numpy array or scalar, a Python number or a regular
    list or tuple of numbers, converted to a tensor of the same dtype (Python floats:
    float64) on ``device``; a ``float`` from a Python number or a 0-d array or tensor.
    Anything else raises :class:`_Unreadable`. Without ``declared`` (a constructor, a method
    whose result the contract leaves open, the benchmarks), numpy arrays become tensors
    and numpy scalars Python numbers, element-wise inside tuples and lists.
    """
    if declared is None:
        if isinstance(value, np.ndarray):
            return torch.from_numpy(np.array(value, copy=True))
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple):
            return tuple(from_backend(v) for v in value)
        if isinstance(value, list):
            return [from_backend(v) for v in value]
        return _plain(value)
    if declared == "float":
        return _number(value)
    array = _array(value)
    if isinstance(array, torch.Tensor):
        return array
    tensor = torch.from_numpy(array)
    return tensor if device is None else tensor.to(device)


def _current_example() -> object | None:
    """The hypothesis build context of the running example, if any."""
    try:
        from hypothesis.control import current_build_context

        return current_build_context()
    except Exception:
        return None


@dataclass(repr=False)
class Target:
    """An implementation of one contract, as the properties see it."""

    contract: Contract
    obj: Any
    spec: str  # what the user named: "drlspec.value:dqn_target", "my.py:f"
    backend: str = "torch"
    calls: list[Call] = field(default_factory=list)
    # Called with True just before and False just after each call of the implementation:
    # the sandbox's watchdog times every call (reference/harness/sandbox.py).
    on_call: Any = field(default=None, repr=False)
    _example: object | None = field(default=None, repr=False)
    _instances: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.backend not in self.contract.backends:
            allowed = ", ".join(self.contract.backends)
            raise UsageError(
                f"contract {self.contract.name} supports backend {allowed}, not {self.backend!r}"
            )
        # Called the way the contract calls it? A wrong arity is the user's mistake, not
        # a hundred failing calls.
        check_signature(self.contract, self.obj, self.spec)

    @classmethod
    def reference(cls, contract: Contract) -> Target:
        return cls(contract, load_object(contract.reference), contract.reference)

    @property
    def is_reference(self) -> bool:
        return self.spec == self.contract.reference

    def __repr__(self) -> str:
        return f"<{self.contract.name}: {self.spec} ({self.backend})>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # hypothesis pretty-prints dataclasses field by field; the short form is what a user needs.
        printer.text(repr(self))

    def _record(self, call: Call) -> Call:
        example = _current_example()
        if example is not self._example:
            # A new hypothesis example: the reproducer shows only this example's calls.
            self._example = example
            self.calls = []
            self._instances = 0
        self.calls.append(call)
        return call

    def _invoke(self, function: Any, call: Call) -> Any:
        self._record(call)
        given = [_private_copy(a, self.backend) for a in call.args]
        call.given = tuple(given)
        snapshots = [_snapshot(a) for a in call.args]
        global_state = _torch_global_state()
        if self.on_call is not None:
            self.on_call(True)
        try:
            with _seeded_random_state(given):
                result = function(*given)
        except BaseException as error:  # SystemExit and KeyboardInterrupt too: a failure
            call.error = error
            raise ImplementationRaised(call, error) from error
        finally:
            if self.on_call is not None:
                self.on_call(False)
            left = _torch_global_state()
            _restore_torch_global_state(global_state)
        if left != global_state:
            changed = ", ".join(
                f"{name} {before} -> {after}"
                for name, before, after in zip(_GLOBAL_STATE_NAMES, global_state, left, strict=True)
                if before != after
            )
            raise AssertionError(
                f"the implementation changed torch's global state and left it changed "
                f"({changed}; in call {call.describe()}): its caller's code would run differently"
            )
        names = self.contract.argument_names(call.name)
        for position, (original, copy, snapshot) in enumerate(
            zip(call.args, given, snapshots, strict=True)
        ):
            if _modified(original, copy, snapshot):
                argument = names[position] if position < len(names) else f"#{position + 1}"
                raise InputModified(call, argument)
        call.result = self._read_result(call, result)
        return call.result

    def _read_result(self, call: Call, result: Any) -> Any:
        """The result as the contract declares it (:func:`from_backend`), or a clear failure."""
        declared = declared_result(self.contract, call.name)
        if declared == "None":
            # An in-place contract (target_update): the result is not part of the meaning,
            # so returning the updated module, as some libraries do, is accepted.
            return None
        if declared is None:
            if self.contract.returns_carry:
                # A numpy carry must not come back to the implementation as a tensor; the
                # properties read the transitions with np.asarray.
                return result
            return from_backend(result)
        tensors = [a for a in call.args if isinstance(a, torch.Tensor)]
        device = tensors[0].device if tensors else None
        if (
            self.backend == "torch"
            and declared != "float"
            and not isinstance(result, torch.Tensor)
            and any(t.requires_grad for t in tensors)
        ):
            # The property differentiates through this result: only a tensor can carry that.
            raise ResultUnreadable(
                call,
                f"{type(result).__name__}, which carries no gradient",
                _declared_phrase(self.contract, call.name, declared)
                + " through which the gradient w.r.t. its inputs flows",
            )
        try:
            converted = from_backend(result, declared, device)
        except _Unreadable as error:
            raise ResultUnreadable(
                call, str(error), _declared_phrase(self.contract, call.name, declared)
            ) from None
        if isinstance(converted, torch.Tensor):
            note_result(tuple(converted.shape), declared)
        return converted

    def __call__(self, *args: Any) -> Any:
        if self.contract.kind == "class":
            call = Call(self.contract.name, args)
            instance = self._invoke(self.obj, call)
            call.instance = self._instances
            self._instances += 1
            return _InstanceProxy(self, instance, call.instance)
        return self._invoke(self.obj, Call("f", args))


class _InstanceProxy:
    """An instance of a class contract whose method calls are converted and recorded."""

    def __init__(self, target: Target, instance: Any, index: int) -> None:
        self._target = target
        self._instance = instance
        self._index = index

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._instance, name)

        def call_method(*args: Any) -> Any:
            return self._target._invoke(method, Call(name, args, instance=self._index))

        return call_method
