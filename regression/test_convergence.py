"""Convergence of every agent on its table case: IQM over seeds reaches the threshold.

Items come from ``reference/data/cases.toml`` (see ``regression/conftest.py``): the smoke tier runs
by default, the full table with ``pytest regression -m convergence`` (or ``tox -e
regression``, which runs the same cases through ``drlspec regress``).
"""

from __future__ import annotations

import json

import pytest

from drlspec.harness import regress


def test_converges(regression_item, regression_output, request: pytest.FixtureRequest) -> None:
    tier, case, device = regression_item
    if device == "cuda" and (reason := regress.cuda_skip_reason()) is not None:
        pytest.skip(reason)
    seeds = request.config.getoption("--regress-seeds") or (
        case.smoke_seeds if tier == "smoke" else case.seeds
    )
    runs = [
        regress.run_one(case, seed, device, regression_output / "runs" / tier)
        for seed in range(1, seeds + 1)
    ]
    verdict = regress.judge(case, device, runs)
    request.node.user_properties.append(
        (regress.PYTEST_PROPERTY, json.dumps({"verdict": verdict, "runs": runs}))
    )
    assert not verdict["errors"], f"{case.name} on {device}: runs crashed: {verdict['errors']}"
    assert verdict["passed"], (
        f"{case.name} on {device}: IQM {verdict['iqm']:.1f} over {seeds} seeds "
        f"(95% CI [{verdict['ci_low']:.1f}, {verdict['ci_high']:.1f}]) is below the threshold "
        f"{case.threshold}; final returns {verdict['final_returns']}"
    )
