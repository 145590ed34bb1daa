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
import hashlib
import importlib
import inspect
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from hypothesis import Phase, settings

from drlspec.contracts import Contract, get_contract
from drlspec.harness.reproducer import reproducer
from drlspec.harness.sandbox import DEFAULT_SHRINK_SECONDS, Job, Limits, run_properties
from drlspec.harness.target import (
    ImplementationRaised,
    InputModified,
    ResultUnreadable,
    Target,
)
from drlspec.usage import UsageError, check_target, property_names, select_properties

__all__ = [
    "ContractResult",
    "Finding",
    "PropertyResult",
    "available_devices",
    "findings",
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
    # The root cause as a key, where one is known: the exception's type and the line of the
    # implementation that raised it, the input it wrote into, or the sandbox's verdict.
    cause: str = ""

    @property
    def example(self) -> str:
        """The failing example's calls, as the reproducer writes them (without its header)."""
        return self.reproducer.split("\n", 1)[1] if "\n" in self.reproducer else ""


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


# What a report prints of an example and a reproducer before it points elsewhere instead.
EXAMPLE_LINES = 40
REPRODUCER_CHARACTERS = 6000


def _shown_example(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= EXAMPLE_LINES:
        return text
    hidden = len(lines) - EXAMPLE_LINES
    cut = f"[... {hidden} more lines: the reproducer has it all]"
    return "\n".join([*lines[:EXAMPLE_LINES], cut])


def _saved_reproducer(result: PropertyResult) -> str:
    """A long reproducer, written to a file of its own; returns the file's path."""
    folder = Path(tempfile.gettempdir()) / "drlspec-reproducers"
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(result.reproducer.encode()).hexdigest()[:12]
    path = folder / f"{result.name}-{digest}.py"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(result.reproducer)
        partial.replace(path)  # atomic: never a half-written reproducer
    return str(path)


def format_failure(result: PropertyResult, indent: str = "    ") -> str:
    """What a user reads about one failed property: cause, example, output, reproducer.

    An example longer than :data:`EXAMPLE_LINES` is cut; a reproducer longer than
    :data:`REPRODUCER_CHARACTERS` (inputs of thousands of rows) goes to a file whose
    path is printed instead, so that one failure never floods a terminal.
    """
    lines = [f"{indent}what differed: {result.message}"]
    if result.falsifying_example:
        example = _shown_example(result.falsifying_example)
        lines.append(indent + example.replace("\n", "\n" + indent))
    deeper = indent + "  "
    if result.output.strip():
        lines.append(f"{indent}the implementation printed:")
        lines.append(deeper + result.output.rstrip().replace("\n", "\n" + indent + "  "))
    if len(result.reproducer) > REPRODUCER_CHARACTERS:
        size = f"{result.reproducer.count(chr(10))} lines"
        lines.append(f"{indent}reproducer ({size}, too long to print): {_saved_reproducer(result)}")
    elif result.reproducer:
        lines.append(f"{indent}reproducer:")
        lines.append(deeper + result.reproducer.rstrip().replace("\n", "\n" + deeper))
    return "\n".join(lines)


@dataclass
class Finding:
    """Failed properties that share one root cause: reported once, with every property it broke."""

    results: list[PropertyResult]

    @property
    def first(self) -> PropertyResult:
        """The result whose details stand for the finding: the one with the smallest example."""
        return min(self.results, key=lambda r: (len(r.example) or 10**9, self.results.index(r)))

    @property
    def properties(self) -> list[str]:
        return [r.name if r.device == "cpu" else f"{r.name} [{r.device}]" for r in self.results]


def findings(results: list[PropertyResult]) -> list[Finding]:
    """Group the failed ``results`` by root cause, in the order the first of each failed.

    Two failures share a cause when the implementation raised the same
    exception at the same line, wrote into the same input, was stopped for
    the same reason, or when they shrank to the same failing calls (one wrong
    value seen by several properties).
    """
    failed = [r for r in results if not r.passed]
    parent = list(range(len(failed)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for index, result in enumerate(failed):
        keys = [("cause", result.cause)] if result.cause else []
        if result.example:
            keys.append(("example", result.example))
        if not keys:
            keys.append(("message", result.message))
        for key in keys:
            if key in owner:
                parent[root(index)] = root(owner[key])
            else:
                owner[key] = index
    groups: dict[int, list[PropertyResult]] = {}
    for index, result in enumerate(failed):
        groups.setdefault(root(index), []).append(result)
    return [Finding(group) for group in sorted(groups.values(), key=lambda g: failed.index(g[0]))]


def format_findings(found: list[Finding], quiet: bool = False, indent: str = "    ") -> str:
    """Each root cause once: the properties it broke, then what differed (and, unless
    ``quiet``, the example, the implementation's output and a reproducer)."""
    blocks = []
    for number, finding in enumerate(found, start=1):
        broke = ", ".join(finding.properties)
        plural = "properties" if len(finding.results) > 1 else "property"
        header = f"finding {number} of {len(found)}: broke {len(finding.results)} {plural}: {broke}"
        if len(finding.results) > 1:
            header += f"\n{indent}as {finding.first.name} shows it (its example is the smallest):"
        if quiet:
            blocks.append(f"{header}\n{indent}what differed: {finding.first.message}")
        else:
            blocks.append(f"{header}\n{format_failure(finding.first, indent)}")
    return "\n\n".join(blocks)


def format_report(result: ContractResult) -> str:
    """The verdict of a whole contract, as ``drlspec verify`` prints it: each cause once."""
    found = findings(result.results)
    number = {id(r): i for i, f in enumerate(found, start=1) for r in f.results}
    failed = [r for r in result.results if not r.passed]
    lines = [f"{result.target} against contract {result.contract.name} ({result.backend}):"]
    for outcome in result.results:
        verdict = "PASS" if outcome.passed else "FAIL"
        see = f"  (finding {number[id(outcome)]})" if not outcome.passed else ""
        lines.append(f"{verdict}  {outcome.name} [{outcome.device}]  {outcome.summary}{see}")
    if found:
        lines += ["", format_findings(found), ""]
    causes = f" ({len(found)} finding{'s' if len(found) != 1 else ''})" if found else ""
    lines.append(
        f"{result.contract.name}: {len(result.results) - len(failed)}/{len(result.results)} "
        f"properties pass -> {'PASS' if result.passed else 'FAIL'}{causes}"
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
            cause=_cause(error),
        )
    return PropertyResult(name, summary, device, True, time.perf_counter() - start)


def _cause(error: BaseException) -> str:
    """A key for the root cause of a failure the implementation made by acting, not by value."""
    if isinstance(error, InputModified):
        return f"modified input {error.argument}"
    if isinstance(error, ResultUnreadable):
        return f"returned {error.returned}"
    if isinstance(error, ImplementationRaised):
        raised = error.error
        site = ""
        traceback = raised.__traceback__
        while traceback is not None:  # to the innermost frame: where it was raised
            site = f"{traceback.tb_frame.f_code.co_filename}:{traceback.tb_lineno}"
            traceback = traceback.tb_next
        # Sizes and indices differ between properties that hit the same line for one reason.
        text = re.sub(r"\d+", "#", str(raised))
        return f"raised {type(raised).__name__} at {site}: {text}"
    return ""


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
    shrink_seconds: float = DEFAULT_SHRINK_SECONDS,
) -> ContractResult:
    """Verify ``target_spec`` (default: the reference) against ``contract_name``.

    ``fail_fast`` stops at the first failing property and ``shrink=False``
    reports the first failing example found rather than the simplest one:
    together they make "is this implementation rejected?" cheap to ask.
    ``limits`` bounds each call's time and the implementation's memory and
    output (:class:`~drlspec.harness.sandbox.Limits`); ``properties``
    restricts the run to the properties those names or wildcards select
    (:func:`~drlspec.usage.select_properties`). Shrinking a failing
    example to its simplest form stops after ``shrink_seconds`` in all, so
    that a wrong implementation is reported quickly. Raises
    :class:`UsageError` for anything the user named wrongly: those are found
    from the sources, before any process starts.
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
    check_target(contract, spec)
    devices = ["cpu"] if backend == "numpy" else available_devices(device)
    summaries = dict(property_names(contract))
    names = list(summaries) if properties is None else select_properties(contract, properties)
    threads = os.environ.get("DRLSPEC_THREADS")
    job = Job(
        contract=contract.name,
        spec=spec,
        backend=backend,
        plan=tuple((name, dev) for name in names for dev in devices),
        profile=profiles.profile_from_environment(),
        max_examples=max_examples,
        shrink=shrink,
        fail_fast=fail_fast,
        threads=int(threads) if threads else None,
        shrink_seconds=shrink_seconds,
    )
    result = ContractResult(contract, spec, backend)

    def on_result(outcome: PropertyResult) -> None:
        result.results.append(outcome)
        if progress is not None:
            progress(outcome)

    run_properties(job, limits or Limits(), on_result, summaries)
    return result
