"""pytest-benchmark suite: every contract's reference, our fast kernels and the peers' kernels.

Every benchmark times one kernel on one case of
:data:`drlspec.harness.bench.CASES` (the inputs ``drlspec bench`` uses), in
float32, one torch thread. Groups are named by case, so pytest-benchmark's
table lists the reference, the fast kernel and each peer side by side. Before
timing, a fast kernel's and a peer's output is checked against the
reference's on the same case (no prize for a fast wrong answer), except where
the peer's interface differs on purpose (stable-baselines3's GAE; see
docs/peers.md).

Run with ``tox -e bench`` (installs the peers); regression/README.md has the
commands and the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import torch

from drlspec.contracts import CONTRACTS
from drlspec.fast import FAST_KERNELS
from drlspec.harness.bench import CASES, check_output, prepare, yardstick
from drlspec.harness.target import load_object
from peers.benchmarks import peers_of  # the repository root is on sys.path: conftest.py

SLOW_CALL_SECONDS = 0.25  # above this, a fixed three rounds: enough for a median


def _run(benchmark: Any, call: Callable[[], Any]) -> None:
    call()  # warm-up, and numba's compilation for compiled kernels (ours and tianshou's)
    start = time.perf_counter()
    call()
    if time.perf_counter() - start > SLOW_CALL_SECONDS:
        benchmark.pedantic(call, rounds=3, iterations=1)
    else:
        benchmark(call)


def _expected(case: Any) -> Any:
    reference = load_object(CONTRACTS[case.contract].reference)
    return prepare(case, reference, dtype=torch.float64).observe()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reference(benchmark: Any, case: Any) -> None:
    benchmark.group = case.name
    benchmark.extra_info.update(kernel="reference", description=case.description)
    reference = load_object(CONTRACTS[case.contract].reference)
    _run(benchmark, prepare(case, reference).call)


FAST_CASES = [c for c in CASES if c.contract in FAST_KERNELS]


@pytest.mark.parametrize("case", FAST_CASES, ids=lambda c: c.name)
def test_fast(benchmark: Any, case: Any) -> None:
    benchmark.group = case.name
    spec = FAST_KERNELS[case.contract]
    benchmark.extra_info.update(kernel=f"fast {spec}", description=case.description)
    prepared = prepare(case, load_object(spec))
    check_output(case, prepared.observe(), None if case.workload else _expected(case))
    _run(benchmark, prepared.call)


PEER_CASES = [
    (case, label, preparer)
    for case in CASES
    for label, preparer in peers_of(case.contract, case.workload, case.size)
]


@pytest.mark.parametrize(
    ("case", "label", "preparer"),
    PEER_CASES,
    ids=[f"{c.name}-{label.split()[0]}-{p.__name__}" for c, label, p in PEER_CASES],
)
def test_peer(benchmark: Any, case: Any, label: str, preparer: Callable) -> None:
    benchmark.group = case.name
    benchmark.extra_info.update(kernel=f"peer {label}", description=case.description)
    call, _ = preparer(case.inputs(torch.float32))
    if case.workload is None:
        _, check = preparer(case.inputs(torch.float64))
        answer = check()
        if answer is not None:
            check_output(case, answer, _expected(case))
    _run(benchmark, call)


def test_yardstick(benchmark: Any) -> None:
    """The fixed workload every time is divided by (``yardstick_clock``); ~1 by construction."""
    benchmark.group = "yardstick"
    benchmark.extra_info.update(kernel="yardstick", description="drlspec.harness.bench.yardstick")
    _run(benchmark, yardstick)
