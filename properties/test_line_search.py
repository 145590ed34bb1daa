"""Properties of ``line_search``: the first backtracked step that improves within the KL bound.

Spec: Trust region. Seed: :four: TRPO / 线性搜索.

The objective and the KL are ours, so each example decides in advance which
candidates ``theta_i = params + backtrack^i * full_step`` are acceptable: a
table gives every candidate an objective value (better than, equal to, or
worse than ``objective(params)``, or NaN) and a KL (below, exactly at, or
above ``max_kl``, or NaN). The callables recognise a candidate by its
coefficient along the step, ``alpha = (theta - params) . s / (s . s)``,
matched to the nearest ``backtrack^i`` on a log scale, and record what they
were asked. The table also covers ``i = max_backtracks`` and
``max_backtracks + 1`` and makes both acceptable: an implementation that
tries one candidate too many is caught.

Nothing is assumed about the order of evaluation: ``kl`` before
``objective`` or after, ``objective(params)`` once or every time, every
candidate up front or one at a time. Only the result is judged, against the
first acceptable candidate in the table.

Inputs covered: ``D`` from 1 to 8, and 1000 to 4096
(:func:`test_large_dimension`); ``max_backtracks`` from 1 to 50;
``backtrack`` over the whole of ``(0, 1)``: 0.5 and 0.8, log-uniform from
1e-300 to 1e-3, ``1 - 10^-k`` for ``k`` up to 11, and uniform; ``max_kl``
log-uniform from 1e-6 to 1 (and 1e-6, 0.01, 1); ``objective(params)`` from
-10 to 10.

Resolvable candidates. Two candidates can be told apart only while their
coefficients differ by much more than rounding: ``alpha_i |log backtrack|``
must exceed ``RESOLUTION = 1e-12`` (1e4 float64 ulps; ``|params|`` is kept
at ``|full_step|``). With ``backtrack`` near 1 that caps ``1 - backtrack``
at 1e-11; with a tiny ``backtrack`` (1e-300) the candidates after the first
are ``params`` itself to rounding. Those *vanishing* candidates get the
objective of ``params`` (no improvement) and a KL of 0: they are never
acceptable, whatever an implementation computes for them
(``backtrack**i`` or repeated products, an underflow to exactly ``params``
or not).

The KL tie. A candidate whose KL is *exactly* ``max_kl`` (and whose
objective improves) may be accepted (``kl <= max_kl``: the reference, the
constraint as written) or skipped (``kl < max_kl``: the seed, sb3-contrib's
``TRPO.train``); the two conventions differ only there, and both pass. So the
admissible results are the first candidate that is acceptable with a strict
KL test, or any tied candidate before it (:meth:`Scenario.admissible`): a
candidate over the bound, one that does not improve, or one past a strictly
acceptable candidate never is. The objective test stays strict: an objective
equal to ``objective(params)`` is no improvement.

NaN. A candidate whose objective or KL is NaN is not acceptable (``NaN > x``,
``NaN <= max_kl`` and ``NaN < max_kl`` are false) and the search moves on to
the next one. A NaN ``objective(params)`` makes every comparison false: no
candidate improves on it, and ``params`` come back unchanged.

Values are float32-representable (``max_kl``, ``objective(params)``) and
differences are at least 1e-3 relative, so an implementation that compares
in float32 sees the same table: the boundary cases (KL exactly ``max_kl``,
objective exactly equal) are exact in both precisions. The returned vector is
compared with the expected one at float32 accuracy relative to
``max|params| + max|full_step|``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import as_cpu_tensor, assert_close
from drlspec.properties.strategies import log_uniform

CONTRACT = "line_search"

seeds = st.integers(min_value=0, max_value=2**32 - 1)
small_sizes = st.integers(min_value=1, max_value=8)
RESOLUTION = 1e-12
backtracks = st.one_of(
    st.sampled_from([0.5, 0.8]),
    log_uniform(1e-300, 1e-3),
    st.integers(min_value=1, max_value=11).map(lambda k: 1.0 - 10.0**-k),
    st.floats(min_value=1e-3, max_value=0.999),
)
# float32-representable, so that a float32 comparison sees kl == max_kl as equal too.
max_kls = st.one_of(st.sampled_from([1e-6, 0.01, 1.0]), log_uniform(1e-6, 1.0)).map(
    lambda x: float(np.float32(x))
)
objective_bases = st.floats(min_value=-10.0, max_value=10.0, width=32)
max_backtrack_counts = st.one_of(
    st.integers(min_value=1, max_value=10), st.integers(min_value=1, max_value=50)
)
# Rejections before the first acceptable candidate, by cause.
NAN_KINDS = ("nan_objective", "nan_kl", "nan_both")
UNACCEPTABLE = ("worse", "equal", "kl_over", "both", *NAN_KINDS)
ACCEPTABLE_KL = ("below", "equal", "zero")
NAN = float("nan")


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

    def __repr__(self) -> str:
        # Short: hypothesis prints it with every failure, and D reaches 4096.
        return (
            f"Scenario(D={self.params.shape[0]}, max_kl={self.max_kl!r}, "
            f"backtrack={self.backtrack!r}, max_backtracks={self.max_backtracks}, "
            f"base={self.base!r}, kinds={self.kinds})"
        )

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        # hypothesis pretty-prints dataclasses field by field: 4096 numbers each.
        printer.text(repr(self))

    @property
    def resolvable(self) -> int:
        """How many leading candidates can be told apart from each other and from ``params``."""
        return resolvable_count(self.backtrack, len(self.objective_values))

    def acceptable(self, i: int) -> bool:
        """Acceptable under some tie convention: improves or ties, KL within or at the bound."""
        return self.objective_values[i] >= self.base and self.kl_values[i] <= self.max_kl

    def strictly_acceptable(self, i: int) -> bool:
        """Acceptable under every convention: improves strictly, KL strictly inside the bound."""
        return self.objective_values[i] > self.base and self.kl_values[i] < self.max_kl

    def tie(self, i: int) -> bool:
        """Acceptable under one convention only: an objective equal to ``objective(params)``
        (Spinning Up accepts it, the reference does not) or a KL of exactly ``max_kl`` (the
        reference accepts it, the seed and sb3-contrib do not)."""
        return self.acceptable(i) and not self.strictly_acceptable(i)

    def admissible(self) -> list[int | None]:
        """Every correct answer, in order; ``None`` for "keep params".

        The first candidate acceptable under every convention, or any tie
        before it (either convention at each tie, also mixed).
        """
        answers: list[int | None] = []
        for i in range(self.max_backtracks):
            if self.acceptable(i):
                answers.append(i)
                if not self.tie(i):
                    return answers
        return [*answers, None]

    def expected_index(self) -> int | None:
        """The reference's answer: the first ``i < max_backtracks`` with ``kl <= max_kl``."""
        return self.admissible()[0]

    def candidate(self, i: int) -> torch.Tensor:
        return self.params + self.backtrack**i * self.full_step


def resolvable_count(backtrack: float, count: int) -> int:
    """Leading candidates ``i < count`` with ``backtrack^i |log backtrack| > RESOLUTION``."""
    log_b = abs(math.log(backtrack))
    resolvable = 0
    for i in range(count):
        if backtrack**i * log_b <= RESOLUTION:
            break
        resolvable += 1
    return resolvable


def locate(
    theta: torch.Tensor, params: torch.Tensor, full_step: torch.Tensor, backtrack: float, count: int
) -> int | None:
    """Index of the resolvable candidate ``theta`` is; ``None`` for ``params`` (and vanishing ones).

    ``alpha = (theta - params) . s / (s . s)`` is matched to the nearest
    ``backtrack^i`` on a log scale. Anything with ``alpha`` below half a step
    (on that scale) under the last resolvable coefficient is ``params``, and
    so is anything beyond the full step (``alpha > backtrack^-1/2``).
    """
    theta = theta.detach().to("cpu", torch.float64)
    alpha = float((theta - params) @ full_step) / float(full_step @ full_step)
    resolvable = resolvable_count(backtrack, count)
    if resolvable == 0 or not alpha > 0:
        return None
    log_b = math.log(backtrack)
    position = math.log(alpha) / log_b  # i for alpha = backtrack^i
    index = round(position)
    if index < 0 or index >= resolvable:
        return None
    return index


def table_value(
    theta: torch.Tensor,
    params: list[float],
    full_step: list[float],
    backtrack: float,
    values: list[float],
    at_params: float,
) -> torch.Tensor:
    """What a table callable answers at ``theta`` (used by reproducers as well)."""
    params_t = torch.tensor(params, dtype=torch.float64)
    step_t = torch.tensor(full_step, dtype=torch.float64)
    index = locate(theta, params_t, step_t, backtrack, len(values))
    value = at_params if index is None else values[index]
    return torch.tensor(value, dtype=torch.float64, device=theta.device)


class TableFunction:
    """``theta -> value`` of the candidate ``theta`` is (see :func:`locate`); records each call."""

    def __init__(self, scenario: Scenario, values: list[float], name: str, log: list) -> None:
        self._params = scenario.params
        self._step = scenario.full_step
        self._backtrack = scenario.backtrack
        self._values = values
        self._at_params = scenario.base if name == "objective" else 0.0
        self._name = name
        self._log = log

    def locate(self, theta: torch.Tensor) -> int | None:
        """Index of the candidate, ``None`` for ``params``."""
        return locate(theta, self._params, self._step, self._backtrack, len(self._values))

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        index = self.locate(theta)
        self._log.append((self._name, "params" if index is None else index))
        value = self._at_params if index is None else self._values[index]
        return torch.tensor(value, dtype=torch.float64, device=theta.device)

    def __drlspec_repro__(self) -> str:
        return (
            "(lambda theta: __import__('drlspec.properties.test_line_search', fromlist=['_'])"
            ".table_value("
            f"theta, {self._params.tolist()!r}, {self._step.tolist()!r}, {self._backtrack!r}, "
            f"{self._values!r}, {self._at_params!r}))"
        ).replace("nan", "float('nan')")

    def __repr__(self) -> str:
        return f"TableFunction({self._name})"


def _make_value(rng: random.Random, kind: str, scenario_base: float, max_kl: float):
    """``(objective, kl)`` of a candidate of ``kind``; magnitudes from ``rng`` (cheap to draw)."""
    if kind == "vanishing":
        return scenario_base, 0.0
    base = scenario_base if math.isfinite(scenario_base) else 0.0
    margin = rng.choice([1e-3, 1.0]) * max(1.0, abs(base))
    objective = {
        "good": base + margin,
        "worse": base - margin,
        "equal": scenario_base,
        "kl_over": base + margin,
        "both": base - margin,
        "nan_objective": NAN,
        "nan_kl": base + margin,
        "nan_both": NAN,
    }[kind]
    if kind in ("kl_over", "both"):
        kl = max_kl * (1.0 + rng.uniform(1e-3, 10.0))
    elif kind in ("nan_kl", "nan_both"):
        kl = NAN
    else:
        kl_kind = rng.choice(ACCEPTABLE_KL)
        kl = {
            "below": max_kl * rng.uniform(0.0, 0.99),
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
    sizes: st.SearchStrategy[int] = small_sizes,
    base: st.SearchStrategy[float] = objective_bases,
    backtrack: st.SearchStrategy[float] = backtracks,
) -> Scenario:
    before = st.sampled_from(UNACCEPTABLE) if before is None else before
    size = draw(sizes)
    generator = torch.Generator().manual_seed(draw(seeds))
    params = 0.5 * torch.randn(size, generator=generator, dtype=torch.float64)
    full_step = torch.randn(size, generator=generator, dtype=torch.float64)
    full_step = full_step / full_step.norm() * draw(st.floats(min_value=0.5, max_value=2.0))
    params = params / max(float(params.norm()), 1e-3) * float(full_step.norm())
    max_backtracks = draw(max_backtrack_counts)
    max_kl = draw(max_kls)
    objective_base = draw(base)
    factor = draw(backtrack)
    resolvable = resolvable_count(factor, max_backtracks + 2)
    first_index = {
        "any": draw(st.integers(min_value=0, max_value=min(max_backtracks, resolvable))),
        "full": 0,
        "none": max_backtracks,
    }[first]
    kinds = []
    for i in range(max_backtracks + 2):
        if i >= resolvable:
            kinds.append("vanishing")
        elif i < first_index:
            kinds.append(draw(before))
        elif i == first_index or i >= max_backtracks:
            kinds.append("good")
        else:
            kinds.append(draw(st.sampled_from(("good", *UNACCEPTABLE))))
    rng = random.Random(draw(seeds))
    values = [_make_value(rng, kind, objective_base, max_kl) for kind in kinds]
    objective_values = [v[0] for v in values]
    kl_values = [v[1] for v in values]
    if first_kl == "equal" and first_index < min(max_backtracks, resolvable):
        kl_values[first_index] = max_kl
    return Scenario(
        params=params,
        full_step=full_step,
        max_kl=max_kl,
        backtrack=factor,
        max_backtracks=max_backtracks,
        base=objective_base,
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
    admissible = scenario.admissible()
    if index not in admissible:

        def verdict(i: int) -> str:
            return "tie" if scenario.tie(i) else "ok" if scenario.acceptable(i) else "no"

        table = ", ".join(
            f"{i}: {verdict(i)} ({scenario.kinds[i]}: objective "
            f"{scenario.objective_values[i]:.6g}, kl {scenario.kl_values[i]:.6g})"
            for i in range(len(scenario.objective_values))
        )
        expected = " or ".join(_describe(i) for i in admissible)
        if len(admissible) > 1:
            expected += " (a KL exactly at max_kl may be accepted or skipped)"
        raise AssertionError(
            f"{what}: returned {_describe(index)}, expected {expected}; "
            f"objective(params) = {scenario.base!r}, max_kl = {scenario.max_kl!r}, "
            f"backtrack = {scenario.backtrack!r}, max_backtracks = {scenario.max_backtracks}; "
            f"candidates {table}; calls made: {log[:60]}"
        )
    target = scenario.params if index is None else scenario.candidate(index)
    scale = float(scenario.params.abs().max() + scenario.full_step.abs().max())
    assert_close(result, target, what=f"{what}: the returned vector", scale=scale)


@given(scenario=scenarios())
def test_returns_first_acceptable_step(impl, device, scenario):
    """Returns the first params + backtrack^i * full_step that improves with kl within max_kl."""
    _assert_expected(impl, scenario, device, "line search")


@given(scenario=scenarios(before=st.sampled_from(("good", *UNACCEPTABLE))))
def test_result_keeps_kl_bound_and_improves(impl, device, scenario):
    """Whatever it returns has kl <= max_kl and, unless it is params, an objective no lower."""
    _, index, log, _ = _run(impl, scenario, device)
    if index is None:
        return
    if not scenario.acceptable(index) or index >= scenario.max_backtracks:
        raise AssertionError(
            f"returned {_describe(index)}, which has objective "
            f"{scenario.objective_values[index]!r} (objective(params) = {scenario.base!r}) and "
            f"kl {scenario.kl_values[index]!r} (max_kl = {scenario.max_kl!r}, "
            f"max_backtracks = {scenario.max_backtracks}); calls made: {log[:60]}"
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
def test_kl_at_bound_either_convention(impl, device, scenario):
    """kl == max_kl exactly: accepted (kl <= max_kl) or skipped (kl < max_kl); nothing else.

    The first improving candidate has a KL of exactly ``max_kl``. The
    reference accepts it; the seed and sb3-contrib move on to the next
    candidate that is acceptable with a strict test (or keep ``params``).
    Both are correct; returning a candidate over the bound, one that does not
    improve, a later one, or ``params`` while a strictly acceptable candidate
    exists is not.
    """
    _assert_expected(
        impl, scenario, device, "line search where the first good step has kl = max_kl"
    )


@given(scenario=scenarios(before=st.just("equal")))
def test_equal_objective_either_convention(impl, device, scenario):
    """objective == objective(params) exactly: skipped (>, the reference) or accepted (>=).

    Spinning Up's TRPO accepts a step whose loss is not worse; the reference
    and sb3-contrib demand a strictly better objective. The two differ only
    at an exact tie and both pass; a candidate whose objective is lower never
    does.
    """
    _assert_expected(impl, scenario, device, "line search past steps of equal objective")


@given(scenario=scenarios(before=st.sampled_from(NAN_KINDS)))
def test_nan_candidates_are_not_acceptable(impl, device, scenario):
    """A candidate whose objective or kl is NaN is not acceptable: the search moves on past it."""
    _assert_expected(impl, scenario, device, "line search past candidates with NaN values")


@given(scenario=scenarios(base=st.just(NAN), before=st.sampled_from(("good", *UNACCEPTABLE))))
def test_nan_objective_at_params_keeps_params(impl, device, scenario):
    """objective(params) = NaN: no candidate improves on it (NaN compares false): params back."""
    _assert_expected(impl, scenario, device, "line search with objective(params) = NaN")


@given(
    scenario=scenarios(
        backtrack=st.one_of(
            log_uniform(1e-300, 1e-3),
            st.integers(min_value=4, max_value=11).map(lambda k: 1.0 - 10.0**-k),
        )
    )
)
def test_backtrack_near_zero_and_near_one(impl, device, scenario):
    """backtrack from 1e-300 to 1e-3 and from 1 - 1e-4 to 1 - 1e-11: the first acceptable step."""
    _assert_expected(impl, scenario, device, "line search with an extreme backtrack")


@settings(max_examples=4, deadline=None)
@given(scenario=scenarios(sizes=st.integers(min_value=1000, max_value=4096)))
def test_large_dimension(impl, device, scenario):
    """D = 1000..4096: the first acceptable step, returned at float32 accuracy."""
    _assert_expected(impl, scenario, device, "line search at large D")


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
