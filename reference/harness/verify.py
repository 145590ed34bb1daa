"""Run one contract's properties against an implementation, without pytest.

The property modules are ordinary pytest modules whose tests are hypothesis
``@given`` functions taking the fixtures ``impl`` (a :class:`Target`),
``device`` and ``backend``. ``drlspec verify`` imports the module and calls
each test with those arguments directly, which is fast, keeps the hypothesis
report (the shrunk example), and lets the harness read the target's recorded
calls of the failing example to write a reproducer.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from hypothesis import Phase, settings

from reference.contracts import Contract, get_contract
from reference.harness.reproducer import reproducer
from reference.harness.target import ImplementationRaised, Target, UsageError, load_object

__all__ = ["ContractResult", "PropertyResult", "available_devices", "verify"]

FIXTURES = ("impl", "device", "backend")


@dataclass
class PropertyResult:
    """The verdict of one property on one device."""

    name: str
    summary: str
    device: str
    passed: bool
    seconds: float
    message: str = ""  # what differed
    falsifying_example: str = ""
    reproducer: str = ""


@dataclass
class ContractResult:
    contract: Contract
    target: str
    backend: str
    results: list[PropertyResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)


def available_devices(request: str | None) -> list[str]:
    """``cpu``/``cuda``/``all``; ``None`` means cpu plus cuda when present."""
    has_cuda = torch.cuda.is_available()
    if request is None:
        return ["cpu", "cuda"] if has_cuda else ["cpu"]
    if request == "cpu":
        return ["cpu"]
    if request in ("cuda", "all"):
        if not has_cuda:
            raise UsageError(f"--device {request} asks for CUDA, but no CUDA device is available")
        return ["cuda"] if request == "cuda" else ["cpu", "cuda"]
    raise UsageError(f"--device must be cpu, cuda or all, got {request!r}")


def properties_of(contract: Contract) -> list[tuple[str, Callable[..., None]]]:
    """The contract's property functions, in the order the module defines them."""
    if not contract.implemented:
        raise UsageError(f"contract {contract.name} has no properties yet")
    module = importlib.import_module(contract.property_module)
    found = []
    for name, obj in vars(module).items():
        if name.startswith("test_") and callable(obj):
            parameters = inspect.signature(obj).parameters
            unknown = [p for p in parameters if p not in FIXTURES]
            if unknown:
                raise RuntimeError(
                    f"{contract.property_module}.{name} asks for {unknown}; properties may "
                    f"only take the fixtures {FIXTURES}"
                )
            found.append((name, obj))
    return found


@contextlib.contextmanager
def _verification_settings(max_examples: int | None, shrink: bool) -> Iterator[None]:
    """The active profile (dev or ci), made deterministic and quiet for one verify run."""
    from properties import profiles  # registers the profiles

    base = settings.get_profile(profiles.load_from_environment())
    overrides = {
        "database": None,
        "derandomize": True,
        "report_multiple_bugs": False,
        "print_blob": False,
    }
    if max_examples is not None:
        overrides["max_examples"] = max_examples
    if not shrink:
        # Rejecting an implementation needs one failing example, not the smallest one.
        overrides["phases"] = (Phase.explicit, Phase.reuse, Phase.generate)
    settings.register_profile("drlspec-verify", parent=base, **overrides)
    previous = settings.get_current_profile_name()
    settings.load_profile("drlspec-verify")
    try:
        yield
    finally:
        settings.load_profile(previous)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _run_property(
    name: str,
    function: Callable[..., None],
    target: Target,
    device: str,
) -> PropertyResult:
    wanted = inspect.signature(function).parameters
    fixtures = {"impl": target, "device": device, "backend": target.backend}
    kwargs = {k: v for k, v in fixtures.items() if k in wanted}
    summary = _first_line(inspect.getdoc(function))
    start = time.perf_counter()
    target.calls = []
    try:
        function(**kwargs)
    except Exception as error:
        seconds = time.perf_counter() - start
        notes = [
            n
            for n in getattr(error, "__notes__", [])
            if n.startswith(("Falsifying example", "Failing test case"))
        ]
        if isinstance(error, AssertionError):
            message = str(error) or type(error).__name__
        else:
            # The property itself broke (or the implementation broke it outside a call).
            message = f"{type(error).__name__}: {error}"
        if isinstance(error, ImplementationRaised):
            message = str(error)
        return PropertyResult(
            name,
            summary,
            device,
            passed=False,
            seconds=seconds,
            message=message,
            falsifying_example="\n".join(notes),
            reproducer=reproducer(target, list(target.calls), name) if target.calls else "",
        )
    return PropertyResult(name, summary, device, True, time.perf_counter() - start)


def verify(
    contract_name: str,
    target_spec: str | None = None,
    *,
    backend: str = "torch",
    max_examples: int | None = None,
    device: str | None = "cpu",
    progress: Callable[[PropertyResult], None] | None = None,
    fail_fast: bool = False,
    shrink: bool = True,
) -> ContractResult:
    """Verify ``target_spec`` (default: the reference) against ``contract_name``.

    ``fail_fast`` stops at the first failing property and ``shrink=False``
    reports the first failing example found rather than the simplest one:
    together they make "is this implementation rejected?" cheap to ask.
    Raises :class:`UsageError` for anything the user named wrongly.
    """
    try:
        contract = get_contract(contract_name)
    except KeyError as error:
        raise UsageError(error.args[0]) from None
    spec = target_spec or contract.reference
    target = Target(contract, load_object(spec), spec, backend)
    devices = ["cpu"] if backend == "numpy" else available_devices(device)
    result = ContractResult(contract, spec, backend)
    # torch's own thread pool makes small kernels slower and timings noisier.
    threads = torch.get_num_threads()
    if os.environ.get("DRLSPEC_THREADS") is None:
        torch.set_num_threads(1)
    try:
        with _verification_settings(max_examples, shrink):
            for name, function in properties_of(contract):
                for dev in devices:
                    outcome = _run_property(name, function, target, dev)
                    result.results.append(outcome)
                    if progress is not None:
                        progress(outcome)
                    if fail_fast and not outcome.passed:
                        return result
    finally:
        torch.set_num_threads(threads)
    return result
