"""Interleaved timing of a target against the reference, after checking its answer.

The inputs are the benchmark cases of :mod:`drlspec.harness.bench_cases` (``CASES``,
re-exported here), the same ones the pytest-benchmark suite (``regression/benchmarks``)
times. Before anything is timed, ``bench`` runs the target once on a case's float32 inputs
and compares its output with the reference's on the float64 ones: no prize for a fast
wrong answer.

Timing (:func:`compare`): both callables are warmed up, each is calibrated to
a number of calls per sample that takes at least ``MIN_SAMPLE_SECONDS``, and
the samples are then taken alternately (target, reference, reference,
target, ...), so that load from other processes lands on both alike. The
result is the median time per call, its interquartile range, and the ratio
of the medians.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from drlspec.contracts import Contract, get_contract
from drlspec.harness.bench_cases import CASES, SEED, BenchCase, cases_of, find_case
from drlspec.harness.sandbox import Limits, run_isolated
from drlspec.harness.target import UsageError, from_backend, load_object, to_backend

__all__ = [
    "CASES",
    "BenchCase",
    "Measurement",
    "Prepared",
    "cases_of",
    "check_output",
    "compare",
    "find_case",
    "prepare",
]

MIN_SAMPLE_SECONDS = 2e-3  # a sample shorter than this is dominated by timer resolution and noise


@dataclass(frozen=True)
class Prepared:
    """A target made ready to time: ``call()`` does the timed work; ``observe()`` its output."""

    call: Callable[[], Any]
    observe: Callable[[], Any]


# ---------------------------------------------------------------------------
# Making a target ready to time
# ---------------------------------------------------------------------------


def _fresh(args: tuple) -> tuple:
    """Tensors that take gradients get a fresh leaf, so no call sees another's graph."""
    return tuple(
        a.detach().requires_grad_() if isinstance(a, torch.Tensor) and a.requires_grad else a
        for a in args
    )


def prepare(case: BenchCase, obj: Any, backend: str = "torch", dtype: Any = torch.float32):
    """``obj`` (a function or, for a class contract, the class) made ready to time on ``case``."""
    args = case.inputs(dtype)
    if case.workload is not None:
        return _prepare_sum_tree(case.workload, obj, backend, args)
    converted = to_backend(_fresh(args), backend)

    def call() -> Any:
        return obj(*converted)

    if get_contract(case.contract).returns_carry:
        # A collector (collect_transitions): what is compared is the transitions of one call
        # from the case's freshly seeded environments, field by field.
        from drlspec.collection import FIELDS

        def observe_collected() -> tuple[np.ndarray, ...]:
            transitions, _ = obj(*case.inputs(dtype))
            return tuple(
                np.asarray(
                    transitions[name]
                    if isinstance(transitions, dict)
                    else getattr(transitions, name),
                    dtype=np.float64,
                )
                for name in FIELDS
            )

        return Prepared(call, observe_collected)

    if get_contract(case.contract).signature.endswith("-> None"):
        # An in-place contract (target_update): what is observed is the state of the module
        # it updates, the second argument, after one call on fresh copies.
        def observe_in_place() -> list[torch.Tensor]:
            fresh = copy.deepcopy(args)
            obj(*to_backend(fresh, backend))
            return [t.detach() for t in fresh[1].state_dict().values()]

        return Prepared(call, observe_in_place)

    return Prepared(call, lambda: from_backend(obj(*to_backend(_fresh(args), backend))))


def _prepare_sum_tree(workload: str, cls: Any, backend: str, args: tuple) -> Prepared:
    """A tree of capacity 1e6 filled with the case's priorities (not timed), and its workload.

    ``sample``: find 256 prefix sums. ``update``: write 256 distinct leaves.
    ``both``: find, then write new priorities at the leaves found (what a
    prioritized replay step does). ``observe`` runs the workload once on a
    freshly filled tree and returns ``(found, total, get(touched))``.
    """
    capacity, priorities, fractions, indices, new_priorities = args

    def filled() -> Any:
        tree = cls(capacity)
        tree.update(*to_backend((torch.arange(capacity), priorities), backend))
        return tree

    tree = filled()
    fractions_b, indices_b, new_priorities_b = to_backend(
        (fractions, indices, new_priorities), backend
    )

    # The prefix sums scale with the current total, as a prioritized replay's sampling does:
    # repeated "both" workloads change the total.
    def sample(tree: Any) -> Any:
        return tree.find(fractions_b * float(tree.total()))

    def update(tree: Any) -> Any:
        tree.update(indices_b, new_priorities_b)
        return indices_b

    def both(tree: Any) -> Any:
        found = tree.find(fractions_b * float(tree.total()))
        tree.update(found, new_priorities_b)
        return found

    run = {"sample": sample, "update": update, "both": both}[workload]

    def observe() -> tuple:
        fresh_tree = filled()
        touched = from_backend(run(fresh_tree))
        total = float(from_backend(fresh_tree.total()))
        got = from_backend(fresh_tree.get(to_backend(touched, backend)))
        return workload, touched, total, got

    return Prepared(lambda: run(tree), observe)


# ---------------------------------------------------------------------------
# The check: the target's output is the reference's
# ---------------------------------------------------------------------------


def _outputs(value: Any) -> list[torch.Tensor]:
    """A result as a list of tensors (a scalar, a tensor, or a float)."""
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _outputs(v)]
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if isinstance(value, (int, float, np.generic)):
        value = torch.tensor(float(value), dtype=torch.float64)
    if not isinstance(value, torch.Tensor):
        raise AssertionError(f"expected a tensor or a number, got {type(value).__name__}")
    return [value.detach()]


def check_output(case: BenchCase, actual: Any, expected: Any) -> None:
    """``actual`` (the target on float32 inputs) is ``expected`` (the reference on float64 ones).

    Function contracts: within ``FLOAT32_RTOL`` of the case's scale (the
    float32 tolerance of properties/assertions.py). The sum tree is checked
    against the contract's meaning instead, with exact sums (see
    :func:`_check_sum_tree`): two correct trees may break a tie differently.
    Raises ``AssertionError`` saying what differed.
    """
    from drlspec.properties.assertions import assert_close

    if case.workload is not None:
        _check_sum_tree(case, actual)
        return
    actual_list, expected_list = _outputs(actual), _outputs(expected)
    if len(actual_list) != len(expected_list):
        raise AssertionError(f"{len(actual_list)} outputs, expected {len(expected_list)}")
    scale = case.scale(case.inputs(torch.float64)) if case.scale else None
    for position, (a, e) in enumerate(zip(actual_list, expected_list, strict=True)):
        what = f"{case.name} output" + (f" {position}" if len(actual_list) > 1 else "")
        assert_close(a, e, what=what, scale=scale)


def _check_sum_tree(case: BenchCase, observed: tuple) -> None:
    """The workload's results against exact (``math.fsum``/cumsum in float64) sums.

    Tolerances: a float32 tree of depth 20 sums each node once from its two
    children, so a node errs by at most ``20 * 2**-24`` of the total
    (``1.2e-6``); ``find`` compares ``u`` with at most ``2 * 20 + 1`` such
    sums. We allow ``(2 * depth + 1) * 2**-24 * total``, a few leaves' width at
    this capacity: the check refuses a descent that goes astray, not an
    off-by-one at a boundary (the property suite pins that on small trees).
    """
    workload, touched, total, got = observed
    capacity, priorities, fractions, indices, new_priorities = case.inputs(torch.float64)
    depth = max(1, math.ceil(math.log2(capacity)))
    exact_total = math.fsum(priorities.tolist())
    slack = (2 * depth + 1) * 2.0**-24 * exact_total
    touched = torch.as_tensor(touched).to(torch.int64).reshape(-1)
    got = torch.as_tensor(got).to(torch.float64).reshape(-1)
    if workload in ("sample", "both"):
        prefix_sums = fractions * exact_total
        cumulative = torch.cumsum(priorities, 0)
        if touched.shape != prefix_sums.shape:
            raise AssertionError(f"find returned shape {list(touched.shape)}, expected [256]")
        if bool(((touched < 0) | (touched >= capacity)).any()):
            raise AssertionError("find returned an index outside [0, capacity)")
        upper = cumulative[touched]
        lower = upper - priorities[touched]
        outside = (prefix_sums < lower - slack) | (prefix_sums > upper + slack)
        if bool(outside.any()):
            k = int(outside.nonzero()[0])
            raise AssertionError(
                f"find({float(prefix_sums[k])!r}) returned leaf {int(touched[k])} whose "
                f"interval is [{float(lower[k])!r}, {float(upper[k])!r}]"
            )
    written = new_priorities if workload != "sample" else priorities[touched]
    if workload == "update":
        touched_expected = indices
        if not torch.equal(touched, touched_expected):
            raise AssertionError("update workload touched other leaves")
    # Last write wins; with repeated found leaves the last of them is what get returns.
    last = {int(i): float(p) for i, p in zip(touched.tolist(), written.tolist(), strict=True)}
    expected_got = torch.tensor([last[int(i)] for i in touched.tolist()], dtype=torch.float64)
    if got.shape != expected_got.shape or not torch.allclose(
        got, expected_got, rtol=2.0**-23, atol=0.0
    ):
        raise AssertionError("get() after the workload differs from what was last written")
    final = priorities.clone()
    final[torch.tensor(list(last), dtype=torch.int64)] = torch.tensor(
        list(last.values()), dtype=torch.float64
    )
    exact_final = math.fsum(final.tolist())
    if abs(total - exact_final) > (depth + 1) * 2.0**-24 * exact_final:
        raise AssertionError(f"total() is {total!r}, the leaves sum to {exact_final!r}")


# ---------------------------------------------------------------------------
# Interleaved timing
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """Seconds per call of one callable: the samples, their median and interquartile range."""

    name: str
    samples: tuple[float, ...]
    calls_per_sample: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def iqr(self) -> float:
        if len(self.samples) < 4:
            return max(self.samples) - min(self.samples)
        quartiles = statistics.quantiles(self.samples, n=4)
        return quartiles[2] - quartiles[0]


def _calls_per_sample(function: Callable[[], Any]) -> int:
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            function()
        if time.perf_counter() - start >= MIN_SAMPLE_SECONDS or calls >= 1 << 20:
            return calls
        calls *= 2


def _sample(function: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def compare(
    functions: dict[str, Callable[[], Any]],
    *,
    seconds: float = 2.0,
    min_rounds: int = 5,
    max_rounds: int = 200,
    warmup: int = 3,
) -> list[Measurement]:
    """Time the callables side by side: warm up, calibrate, then sample them in alternating order.

    Each round takes one sample of every callable, in an order that reverses
    every round, so that neither is always first after a pause. Rounds run
    until ``seconds`` have passed (at least ``min_rounds``).
    """
    names = list(functions)
    for function in functions.values():
        for _ in range(warmup):
            start = time.perf_counter()
            function()
            if time.perf_counter() - start > seconds / 4:
                break  # a slow call is warm after one run; more would only cost time
    calls = {name: _calls_per_sample(functions[name]) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    start = time.perf_counter()
    rounds = 0
    while rounds < max_rounds and (rounds < min_rounds or time.perf_counter() - start < seconds):
        order = names if rounds % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(_sample(functions[name], calls[name]))
        rounds += 1
    return [Measurement(name, tuple(samples[name]), calls[name]) for name in names]


def load_target(contract: Contract, spec: str | None) -> Any:
    """The object named by ``spec`` (default: the reference)."""
    return load_object(spec or contract.reference)


def bench(
    contract_name: str,
    target_spec: str,
    *,
    size: str | None = None,
    backend: str = "torch",
    seconds: float = 2.0,
) -> tuple[BenchCase, Measurement, Measurement]:
    """Check ``target_spec`` against the reference on ``contract_name``'s case, then time both.

    Raises ``UsageError`` for a wrong name, ``AssertionError`` when the
    target's output differs from the reference's.
    """
    try:
        contract = get_contract(contract_name)
    except KeyError as error:
        raise UsageError(error.args[0]) from None
    if backend not in contract.backends:
        allowed = ", ".join(contract.backends)
        raise UsageError(f"contract {contract.name} supports backend {allowed}, not {backend!r}")
    case = find_case(contract.name, size)
    target = load_target(contract, target_spec)
    reference = load_target(contract, None)
    if contract.kind == "class" and not isinstance(target, type):
        raise UsageError(f"{target_spec} must be a class for contract {contract.name}")
    if not callable(target):
        raise UsageError(f"{target_spec} is not callable")

    prepared_target = prepare(case, target, backend)
    prepared_reference = prepare(case, reference)
    try:
        actual = prepared_target.observe()
    except Exception as error:
        raise AssertionError(f"the target raised {type(error).__name__}: {error}") from error
    expected = None
    if case.workload is None:
        expected = prepare(case, reference, dtype=torch.float64).observe()
    check_output(case, actual, expected)
    measured = compare(
        {"target": prepared_target.call, "reference": prepared_reference.call}, seconds=seconds
    )
    return case, measured[0], measured[1]


@dataclass(frozen=True)
class BenchReport:
    """What ``drlspec bench`` prints, in plain values that cross a process boundary."""

    case: str
    description: str
    workload: bool  # checked against the contract's meaning rather than the reference's output
    target: Measurement
    reference: Measurement


def _bench_report(
    contract_name: str, target_spec: str, size: str | None, backend: str, seconds: float
) -> BenchReport:
    torch.set_num_threads(1)  # small kernels time steadier, and alike, on one thread
    case, target, reference = bench(
        contract_name, target_spec, size=size, backend=backend, seconds=seconds
    )
    return BenchReport(case.name, case.description, case.workload is not None, target, reference)


def bench_isolated(
    contract_name: str,
    target_spec: str,
    *,
    size: str | None = None,
    backend: str = "torch",
    seconds: float = 2.0,
    limits: Limits | None = None,
) -> BenchReport:
    """:func:`bench` in a sandboxed child, so that a target that hangs or exits cannot stall it.

    The whole run (check, warm-up, calibration, timing) may take
    ``20 + 4 * seconds + 3 * limits.call_seconds``; past that, or if the child
    dies or passes a memory or output limit, raises
    :class:`~drlspec.harness.sandbox.IsolatedFailure`.
    """
    limits = limits or Limits()
    return run_isolated(
        _bench_report,
        (contract_name, target_spec, size, backend, seconds),
        seconds=20.0 + 4.0 * seconds + 3.0 * limits.call_seconds,
        limits=limits,
    )


# ---------------------------------------------------------------------------
# The yardstick: a fixed workload that makes benchmark results machine-independent
# ---------------------------------------------------------------------------

# What the yardstick took on the machine the baseline was recorded on (2-core CI-class
# x86_64, torch CPU, one thread). yardstick_clock runs at real speed there.
YARDSTICK_NOMINAL_SECONDS = 1.75e-3


def yardstick() -> float:
    """One run of the yardstick workload: what the kernels do, in miniature.

    A Python loop of small torch operations (the overhead-bound regime of
    most kernels at these sizes), a float32 elementwise pass over a
    million-element tensor (the memory-bound regime) and a numpy sort (plain
    compiled code). Returns a value so that nothing is optimised away.
    """
    generator = torch.Generator().manual_seed(SEED)
    rows = torch.randn(64, 8, generator=generator)
    carry = torch.zeros(8)
    for t in range(64):
        carry = rows[t] + 0.95 * carry
    stream = torch.randn(1 << 18, generator=generator)
    stream = torch.exp(-stream.abs()) * stream + 1.0
    keys = np.sort(stream.numpy()[: 1 << 14])
    return float(carry.sum()) + float(stream[0]) + float(keys[0])


_yardstick_scale: float | None = None


def yardstick_seconds(runs: int = 41) -> float:
    """The median time of the yardstick on this machine, now (after warm-up)."""
    for _ in range(3):
        yardstick()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        yardstick()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def calibrate_yardstick(runs: int = 101) -> float:
    """Measure the yardstick now and fix ``yardstick_clock``'s scale; returns the seconds."""
    global _yardstick_scale
    seconds = yardstick_seconds(runs)
    _yardstick_scale = YARDSTICK_NOMINAL_SECONDS / seconds
    return seconds


def yardstick_clock() -> float:
    """``time.perf_counter()`` in yardstick units: seconds on a machine where the yardstick
    takes ``YARDSTICK_NOMINAL_SECONDS``.

    pytest-benchmark's ``--benchmark-timer`` (see ``tox -e bench``): every
    stored time is then a ratio to the yardstick (regression/benchmarks/conftest.py
    re-measures it before each benchmark), so a baseline recorded on one
    machine can be compared on a slower or faster, or busier, one.
    """
    if _yardstick_scale is None:
        calibrate_yardstick()
    return time.perf_counter() * _yardstick_scale
