"""Run one contract's properties against an implementation, without pytest.

The property modules are ordinary pytest modules whose tests are hypothesis
``@given`` functions taking the fixtures ``impl`` (a :class:`Target`),
``device`` and ``backend``. ``drlspec verify`` calls each test with those
arguments directly, which is fast, keeps the hypothesis report (the shrunk
example), and lets the harness read the target's recorded calls of the
failing example to write a reproducer. The calls happen in a child process
(:mod:`drlspec.harness.sandbox`), so that an implementation that exits,
crashes, hangs or floods its output fails instead of ending the verdict.
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

from drlspec.contracts import Contract, get_contract
from drlspec.harness.reproducer import reproducer
from drlspec.harness.sandbox import Job, Limits, run_properties
from drlspec.harness.target import ImplementationRaised, Target, UsageError

__all__ = [
    "ContractResult",
    "PropertyResult",
    "available_devices",
    "format_failure",
    "format_report",
    "properties_of",
    "run_property",
    "verification_settings",
    "verify",
]

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
    output: str = ""  # what the implementation printed while the property ran (failures only)


@dataclass
class ContractResult:
    contract: Contract
    target: str
    backend: str
    results: list[PropertyResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every property ran and passed (no result at all is not a pass)."""
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)


def format_failure(result: PropertyResult, indent: str = "    ") -> str:
    """What a user reads about one failed property: cause, example, output, reproducer."""
    lines = [f"{indent}what differed: {result.message}"]
    if result.falsifying_example:
        lines.append(indent + result.falsifying_example.replace("\n", "\n" + indent))
    deeper = indent + "  "
    if result.output.strip():
        lines.append(f"{indent}the implementation printed:")
        lines.append(deeper + result.output.rstrip().replace("\n", "\n" + deeper))
    if result.reproducer:
        lines.append(f"{indent}reproducer:")
        lines.append(deeper + result.reproducer.rstrip().replace("\n", "\n" + deeper))
    return "\n".join(lines)


def format_report(result: ContractResult) -> str:
    """The verdict of a whole contract, as ``drlspec verify`` prints it: failures in full."""
    failed = [r for r in result.results if not r.passed]
    lines = [f"{result.target} against contract {result.contract.name} ({result.backend}):"]
    for outcome in result.results:
        verdict = "PASS" if outcome.passed else "FAIL"
        lines.append(f"{verdict}  {outcome.name} [{outcome.device}]  {outcome.summary}")
        if not outcome.passed:
            lines.append(format_failure(outcome))
    lines.append(
        f"{result.contract.name}: {len(result.results) - len(failed)}/{len(result.results)} "
        f"properties pass -> {'PASS' if result.passed else 'FAIL'}"
    )
    return "\n".join(lines)


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
def verification_settings(profile: str, max_examples: int | None, shrink: bool) -> Iterator[None]:
    """The profile ``profile`` (dev or ci), made deterministic and quiet for one verify run."""
    from drlspec.properties import profiles  # noqa: F401 - registers the profiles

    base = settings.get_profile(profile)
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


def run_property(
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
    limits: Limits | None = None,
    properties: list[str] | None = None,
) -> ContractResult:
    """Verify ``target_spec`` (default: the reference) against ``contract_name``.

    ``fail_fast`` stops at the first failing property and ``shrink=False``
    reports the first failing example found rather than the simplest one:
    together they make "is this implementation rejected?" cheap to ask.
    ``limits`` bounds each call's time and the implementation's memory and
    output (:class:`~drlspec.harness.sandbox.Limits`); ``properties``
    restricts the run to those property names. Raises :class:`UsageError`
    for anything the user named wrongly.
    """
    from drlspec.properties import profiles

    try:
        contract = get_contract(contract_name)
    except KeyError as error:
        raise UsageError(error.args[0]) from None
    if backend not in contract.backends:
        allowed = ", ".join(contract.backends)
        raise UsageError(f"contract {contract.name} supports backend {allowed}, not {backend!r}")
    spec = target_spec or contract.reference
    devices = ["cpu"] if backend == "numpy" else available_devices(device)
    functions = properties_of(contract)
    if properties is not None:
        unknown = sorted(set(properties) - {name for name, _ in functions})
        if unknown:
            raise UsageError(f"contract {contract.name} has no property {', '.join(unknown)}")
        functions = [(name, f) for name, f in functions if name in properties]
    threads = os.environ.get("DRLSPEC_THREADS")
    job = Job(
        contract=contract.name,
        spec=spec,
        backend=backend,
        plan=tuple((name, dev) for name, _ in functions for dev in devices),
        profile=profiles.profile_from_environment(),
        max_examples=max_examples,
        shrink=shrink,
        fail_fast=fail_fast,
        threads=int(threads) if threads else None,
    )
    result = ContractResult(contract, spec, backend)

    def on_result(outcome: PropertyResult) -> None:
        result.results.append(outcome)
        if progress is not None:
            progress(outcome)

    summaries = {name: _first_line(inspect.getdoc(f)) for name, f in functions}
    run_properties(job, limits or Limits(), on_result, summaries)
    return result
