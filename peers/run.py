"""Verify the peers' adapters and compare each verdict with the one recorded in docs/peers.md.

Run from the repository root in an environment that has stable-baselines3 and
torchrl (``tox -e peers`` builds one). Prints one row per check and exits 0
when every verdict is the recorded one: a peer that differs from the contract
on purpose, or is wrong in a known way, must fail exactly the recorded
properties. A changed verdict (a peer fixed, a new disagreement) exits 1, so
that docs/peers.md gets updated with it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from peers.checks import ADAPTER_MODULES, EVERY_PROPERTY, Check  # noqa: E402


def gather_checks() -> list[Check]:
    """Every adapter module's ``CHECKS``, in the order of :data:`ADAPTER_MODULES`."""
    checks = []
    for name in ADAPTER_MODULES:
        checks += importlib.import_module(name).CHECKS
    return checks


def sb3_on_consistent_rollouts(cases: int = 300) -> list[str]:
    """SB3's GAE against the reference on rollouts a real collector produces.

    Inside an episode ``next_values[t] = values[t + 1]`` (one critic, one
    observation); at an episode end ``next_values[t]`` is V of the terminal
    observation and ``values[t + 1]`` that of the reset one. On these inputs
    the two interfaces carry the same information, so SB3 must agree.
    Returns the disagreements (empty when it agrees everywhere).
    """
    from drlspec.properties.assertions import assert_close
    from drlspec.returns import gae as reference_gae
    from peers.sb3_gae import gae as sb3_gae

    generator = torch.Generator().manual_seed(2024)
    discounts = (0.0, 0.5, 0.9, 0.99, 1.0)
    problems = []
    for case in range(cases):
        steps = int(torch.randint(1, 33, (), generator=generator))
        envs = int(torch.randint(1, 5, (), generator=generator))
        state_values = 10 * torch.randn(steps + 1, envs, generator=generator, dtype=torch.float64)
        terminal_values = 10 * torch.randn(steps, envs, generator=generator, dtype=torch.float64)
        rate_terminated, rate_truncated = (0.3 * torch.rand(2, generator=generator)).tolist()
        terminated = torch.rand(steps, envs, generator=generator) < rate_terminated
        truncated = torch.rand(steps, envs, generator=generator) < rate_truncated
        ends = terminated | truncated
        inputs = {
            "rewards": torch.randn(steps, envs, generator=generator, dtype=torch.float64),
            "values": state_values[:-1],
            "next_values": torch.where(ends, terminal_values, state_values[1:]),
            "terminated": terminated,
            "truncated": truncated,
            "gamma": discounts[case % len(discounts)],
            "lam": discounts[(case // len(discounts)) % len(discounts)],
        }
        magnitude = sum(inputs[k].abs() for k in ("rewards", "values", "next_values"))
        try:
            assert_close(
                sb3_gae(*inputs.values()),
                reference_gae(*inputs.values()),
                what=f"case {case} (T={steps}, N={envs}, gamma={inputs['gamma']}, "
                f"lam={inputs['lam']})",
                scale=float(magnitude.sum(dim=0).max()),
            )
        except AssertionError as error:
            problems.append(str(error))
    return problems


def _run_check(check: Check, max_examples: int | None) -> tuple[frozenset[str], int, float]:
    from drlspec.harness import verify

    start = time.perf_counter()
    result = verify(
        check.contract,
        check.target,
        backend=check.backend,
        device="cpu",
        max_examples=max_examples,
    )
    failed = frozenset(r.name for r in result.results if not r.passed)
    if failed and len(failed) == len(result.results):
        failed = EVERY_PROPERTY
    return failed, len(result.results), time.perf_counter() - start


def _describe(failures: frozenset[str]) -> str:
    if failures == EVERY_PROPERTY:
        return "every property"
    return ", ".join(sorted(failures)) or "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=None, metavar="N")
    args = parser.parse_args(argv)
    # The recorded failure lists are the dev profile's (60 examples per property): a
    # draw-dependent bug (an exact tie, clip_eps > 1) is found by some example counts and
    # not others, so the record holds for this profile only, whatever CI sets.
    os.environ["DRLSPEC_HYPOTHESIS_PROFILE"] = "dev"

    rows = []
    for check in gather_checks():
        expected = "FAIL" if check.expected_failures else "PASS"
        try:
            failed, count, seconds = _run_check(check, args.max_examples)
        except Exception as error:  # e.g. an adapter whose peer is not installed
            rows.append((check.contract, check.target, expected, "ERROR", "NO", repr(error)))
            continue
        passed = count - (count if failed == EVERY_PROPERTY else len(failed))
        detail = f"{passed}/{count} pass in {seconds:.1f}s; failing: {_describe(failed)}"
        if check.note:
            detail += f" ({check.note})"
        as_recorded = "yes" if failed == check.expected_failures else "NO"
        rows.append(
            (
                check.contract,
                check.target,
                expected,
                "FAIL" if failed else "PASS",
                as_recorded,
                detail,
            )
        )

    problems = sb3_on_consistent_rollouts()
    detail = "300 rollouts against the reference"
    rows.append(
        (
            "gae",
            "peers.sb3_gae:gae (collector-made rollouts)",
            "PASS",
            "FAIL" if problems else "PASS",
            "NO" if problems else "yes",
            f"{detail}; first: {problems[0]}" if problems else detail,
        )
    )

    header = ("contract", "target", "expected", "got", "as recorded", "detail")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[5]]))
    if any(row[4] != "yes" for row in rows):
        print("\nA verdict differs from the record (docs/peers.md): update it, or the adapter.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
