"""Properties of ``line_search``: the first backtracked step that improves within the KL bound.

Spec: Trust region. Seed: :four: TRPO / 线性搜索.

The objective and the KL are ours, so each example decides in advance which
candidates ``theta_i = params + backtrack^i * full_step`` are acceptable: a
table gives every candidate an objective value (better than, equal to, or
worse than ``objective(params)``) and a KL (below, exactly at, or above
``max_kl``). The callables answer for the nearest of ``params`` and the
candidates, and record what they were asked. The table also covers
``i = max_backtracks`` and ``max_backtracks + 1`` and makes both acceptable:
an implementation that tries one candidate too many is caught.

Nothing is assumed about the order of evaluation: ``kl`` before
``objective`` or after, ``objective(params)`` once or every time, every
candidate up front or one at a time. Only the result is judged, against the
first acceptable candidate in the table.

Values are float32-representable (``max_kl``, ``objective(params)``) and
differences are at least 1e-3 relative, so an implementation that compares
in float32 sees the same table: the boundary cases (KL exactly ``max_kl``,
objective exactly equal) are exact in both precisions. Candidates are at
least ``0.3^9 * 0.1 * 0.5 ~ 1e-6`` apart, so rounding cannot move a point to
a neighbour's; the returned vector is compared with the expected one at
float32 accuracy relative to ``max|params| + max|full_step|``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import as_cpu_tensor, assert_close

CONTRACT = "line_search"

seeds = st.integers(min_value=0, max_value=2**32 - 1)
backtracks = st.one_of(st.sampled_from([0.5, 0.8]), st.floats(min_value=0.3, max_value=0.9))
# float32-representable, so that a float32 comparison sees kl == max_kl as equal too.
max_kls = st.one_of(
    st.sampled_from([float(np.float32(0.01)), float(np.float32(0.05))]),
    st.floats(min_value=2.0**-13, max_value=1.0, width=32),
)
objective_bases = st.floats(min_value=-10.0, max_value=10.0, width=32)
# Rejections before the first acceptable candidate, by cause.
UNACCEPTABLE = ("worse", "equal", "kl_over", "both")
ACCEPTABLE_KL = ("below", "equal", "zero")


@dataclass
class Scenario:
    """One line search: its arguments and the table of candidate values."""

    params: torch.Tensor
    full_step: torch.Tensor
    max_kl: float
    backtrack: float
    max_backtracks: int
    base: float  # objective(params)
    objective_values: list[float]  # for candidates 0 .. max_backtracks + 1
    kl_values: list[float]
    kinds: list[str] = field(default_factory=list)

    @property
    def points(self) -> torch.Tensor:
        """``[K + 1, D]``: the candidates, then ``params`` (float64)."""
        coefficients = [self.backtrack**i for i in range(len(self.objective_values))]
        candidates = [self.params + c * self.full_step for c in coefficients]
        return torch.stack([*candidates, self.params])

    def acceptable(self, i: int) -> bool:
        return self.objective_values[i] > self.base and self.kl_values[i] <= self.max_kl

    def expected_index(self) -> int | None:
        """The first acceptable ``i < max_backtracks``; ``None`` for "keep params"."""
        for i in range(self.max_backtracks):
            if self.acceptable(i):
                return i
        return None


def _value(x: float, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, device=like.device)


class TableFunction:
    """``theta -> value`` of the nearest of ``params`` and the candidates; records each call."""

    def __init__(self, scenario: Scenario, values: list[float], name: str, log: list) -> None:
        self._points = scenario.points
        self._values = [*values, scenario.base if name == "objective" else 0.0]
        self._name = name
        self._log = log

    def locate(self, theta: torch.Tensor) -> int | None:
        """Index of the nearest candidate, ``None`` for ``params``."""
        distances = (self._points - theta.detach().to("cpu", torch.float64)).norm(dim=1)
        index = int(distances.argmin())
        return None if index == len(self._points) - 1 else index

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        index = self.locate(theta)
        self._log.append((self._name, "params" if index is None else index))
        return _value(self._values[len(self._values) - 1 if index is None else index], theta)

    def __drlspec_repro__(self) -> str:
        points = repr(self._points.tolist())
        return (
            f"(lambda theta: torch.tensor({self._values!r}[int((torch.tensor({points}, "
            "dtype=torch.float64) - theta.detach().double().cpu()).norm(dim=1).argmin())], "
            "dtype=torch.float64))"
        )

    def __repr__(self) -> str:
        return f"TableFunction({self._name})"


def _make_value(draw: st.DrawFn, kind: str, scenario_base: float, max_kl: float):
    margin = draw(st.sampled_from([1e-3, 1.0])) * max(1.0, abs(scenario_base))
    objective = {
        "good": scenario_base + margin,
        "worse": scenario_base - margin,
        "equal": scenario_base,
        "kl_over": scenario_base + margin,
        "both": scenario_base - margin,
    }[kind]
    if kind in ("kl_over", "both"):
        kl = max_kl * (1.0 + draw(st.floats(min_value=1e-3, max_value=10.0)))
    else:
        kl_kind = draw(st.sampled_from(ACCEPTABLE_KL))
        kl = {
            "below": max_kl * draw(st.floats(min_value=0.0, max_value=0.99)),
            "equal": max_kl,
            "zero": 0.0,
        }[kl_kind]
    return objective, kl


@st.composite
def scenarios(
    draw: st.DrawFn,
    first: str = "any",  # "any", "full", "none"
    before: st.SearchStrategy[str] | None = None,  # default: any unacceptable kind
    first_kl: str | None = None,  # force the first acceptable candidate's KL: "equal"
) -> Scenario:
    before = st.sampled_from(UNACCEPTABLE) if before is None else before
    size = draw(st.integers(min_value=1, max_value=8))
    generator = torch.Generator().manual_seed(draw(seeds))
    params = 0.5 * torch.randn(size, generator=generator, dtype=torch.float64)
    full_step = torch.randn(size, generator=generator, dtype=torch.float64)
    full_step = full_step / full_step.norm() * draw(st.floats(min_value=0.5, max_value=2.0))
    max_backtracks = draw(st.integers(min_value=1, max_value=8))
    max_kl = draw(max_kls)
    base = draw(objective_bases)
    first_index = {
        "any": draw(st.integers(min_value=0, max_value=max_backtracks)),
        "full": 0,
        "none": max_backtracks,
    }[first]
    kinds = []
    for i in range(max_backtracks + 2):
        if i < first_index:
            kinds.append(draw(before))
        elif i == first_index or i >= max_backtracks:
            kinds.append("good")
        else:
            kinds.append(draw(st.sampled_from(("good", *UNACCEPTABLE))))
    values = [_make_value(draw, kind, base, max_kl) for kind in kinds]
    objective_values = [v[0] for v in values]
    kl_values = [v[1] for v in values]
    if first_kl == "equal" and first_index < max_backtracks:
        kl_values[first_index] = max_kl
    return Scenario(
        params=params,
        full_step=full_step,
        max_kl=max_kl,
        backtrack=draw(backtracks),
        max_backtracks=max_backtracks,
        base=base,
        objective_values=objective_values,
        kl_values=kl_values,
        kinds=kinds,
    )


def _run(impl, scenario: Scenario, device: str):
    log: list = []
    objective = TableFunction(scenario, scenario.objective_values, "objective", log)
    kl = TableFunction(scenario, scenario.kl_values, "kl", log)
    params = scenario.params.clone().to(device)
    full_step = scenario.full_step.clone().to(device)
    result = impl(
        objective,
        kl,
        params,
        full_step,
        scenario.max_kl,
        scenario.backtrack,
        scenario.max_backtracks,
    )
    result = as_cpu_tensor(result, "line_search")
    if result.shape != scenario.params.shape:
        raise AssertionError(
            f"line_search: shape {list(result.shape)}, expected {list(scenario.params.shape)}"
        )
    return result, objective.locate(result), log, (params, full_step)


def _describe(index: int | None) -> str:
    return "params (no step)" if index is None else f"params + backtrack^{index} * full_step"


def _assert_expected(impl, scenario: Scenario, device: str, what: str) -> None:
    result, index, log, _ = _run(impl, scenario, device)
    expected = scenario.expected_index()
    points = scenario.points
    if index != expected:
        table = ", ".join(
            f"{i}: {'ok' if scenario.acceptable(i) else 'no'} "
            f"(objective {scenario.objective_values[i]:.6g}, kl {scenario.kl_values[i]:.6g})"
            for i in range(len(scenario.objective_values))
        )
        raise AssertionError(
            f"{what}: returned {_describe(index)}, expected {_describe(expected)}; "
            f"objective(params) = {scenario.base!r}, max_kl = {scenario.max_kl!r}, "
            f"max_backtracks = {scenario.max_backtracks}; candidates {table}; "
            f"calls made: {log}"
        )
    target = points[-1] if expected is None else points[expected]
    scale = float(scenario.params.abs().max() + scenario.full_step.abs().max())
    assert_close(result, target, what=f"{what}: the returned vector", scale=scale)


@given(scenario=scenarios())
def test_returns_first_acceptable_step(impl, device, scenario):
    """Returns the first params + backtrack^i * full_step that improves with kl <= max_kl."""
    _assert_expected(impl, scenario, device, "line search")


@given(scenario=scenarios(before=st.sampled_from(("good", *UNACCEPTABLE))))
def test_result_keeps_kl_bound_and_improves(impl, device, scenario):
    """Whatever it returns has kl <= max_kl and, unless it is params, a better objective."""
    _, index, log, _ = _run(impl, scenario, device)
    if index is None:
        return
    if not scenario.acceptable(index) or index >= scenario.max_backtracks:
        raise AssertionError(
            f"returned {_describe(index)}, which has objective "
            f"{scenario.objective_values[index]!r} (objective(params) = {scenario.base!r}) and "
            f"kl {scenario.kl_values[index]!r} (max_kl = {scenario.max_kl!r}, "
            f"max_backtracks = {scenario.max_backtracks}); calls made: {log}"
        )


@given(scenario=scenarios(first="full"))
def test_takes_full_step_when_acceptable(impl, device, scenario):
    """When the full step is acceptable, params + full_step is returned (backtrack^0 first)."""
    _assert_expected(impl, scenario, device, "line search with an acceptable full step")


@given(scenario=scenarios(first="none"))
def test_keeps_params_when_nothing_acceptable(impl, device, scenario):
    """When no candidate i < max_backtracks is acceptable, params come back unchanged."""
    _assert_expected(impl, scenario, device, "line search with no acceptable candidate")


@given(scenario=scenarios(first_kl="equal"))
def test_kl_equal_to_bound_is_acceptable(impl, device, scenario):
    """kl == max_kl satisfies the bound (kl <= max_kl, not <)."""
    _assert_expected(
        impl, scenario, device, "line search where the first good step has kl = max_kl"
    )


@given(scenario=scenarios(before=st.just("equal")))
def test_equal_objective_is_no_improvement(impl, device, scenario):
    """A candidate whose objective equals objective(params) is no improvement (strictly greater)."""
    _assert_expected(impl, scenario, device, "line search past steps of equal objective")


@given(scenario=scenarios())
def test_leaves_arguments_unchanged(impl, device, scenario):
    """params and full_step are not modified in place."""
    _, _, _, (params, full_step) = _run(impl, scenario, device)
    for name, tensor, original in (
        ("params", params, scenario.params),
        ("full_step", full_step, scenario.full_step),
    ):
        if not torch.equal(tensor.cpu(), original):
            raise AssertionError(f"line_search modified {name} in place")
