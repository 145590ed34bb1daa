"""Properties of ``per_probabilities``: ``P(i) = p_i^alpha / sum_k p_k^alpha``.

``p_i = |delta_i| + eps`` is computed by the caller; alpha is applied once
(the seed applies it twice; see docs/errata.md). ``alpha = 0`` is uniform
sampling whatever the priorities, zeros included (``0**0 = 1``, as in numpy,
torch and Python); for ``alpha > 0`` a zero priority gets probability exactly
0: such a transition must never be replayed.

Spec: Prioritized replay. Seed: :six: Prioritized Experience Replay.
Paper: Schaul et al. (2016), eq. 1.

Inputs: N = 1..32 priorities, a third of them 0, the others in
``[1e-3, 1e3]`` (float32 and float64); alpha exactly 0, 0.5 and 1 as well as
anywhere in ``[1e-3, 1]``.

Tolerance: probabilities are compared *relatively*, element by element,
within ``FLOAT32_RTOL`` (a zero must be exactly 0). In float32, ``p^alpha``
errs by about ``(alpha + 1) u`` relative (``u = 2**-24``), the sum of at most
32 non-negative terms by ``31 u``, the division by ``u``: ``≤ 35 u ≈ 2e-6``
in all; a log-sum-exp formulation errs by ``|alpha log p| u`` with
``|alpha log p| <= 7`` here, also well inside. An absolute tolerance would
not see the smallest probabilities (down to ``3e-8``), which is where
applying alpha twice shows most.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from properties.strategies import batch_sizes, float_dtypes

CONTRACT = "per_probabilities"

priority_values = st.one_of(
    st.just(0.0),
    st.sampled_from([1e-3, 0.5, 1.0, 3.0, 1e3]),
    st.floats(min_value=1e-3, max_value=1e3, allow_subnormal=False),
)
# alpha = 0 is a discontinuity (zero priorities jump from P = 0 to 1/N), so a
# positive alpha that float32 would round to 0 is not a fair input: positive
# alphas start at 1e-3.
positive_alphas = st.one_of(st.sampled_from([0.5, 1.0]), st.floats(min_value=1e-3, max_value=1.0))
alphas = st.one_of(st.just(0.0), positive_alphas)


@st.composite
def priority_vectors(draw: st.DrawFn, some_positive: bool = True) -> torch.Tensor:
    """``[N]`` priorities; with ``some_positive``, at least one is > 0 (else P is 0/0)."""
    size = draw(batch_sizes)
    values = draw(st.lists(priority_values, min_size=size, max_size=size))
    if some_positive:
        index = draw(st.integers(0, size - 1))
        if values[index] == 0:
            values[index] = draw(st.floats(min_value=1e-3, max_value=1e3))
    return torch.tensor(values, dtype=draw(float_dtypes))


def oracle(priorities: torch.Tensor, alpha: float) -> list[float]:
    """The definition in Python floats (``0.0 ** 0.0 == 1.0``), with an exactly rounded sum."""
    powered = [p**alpha for p in priorities.double().tolist()]
    total = math.fsum(powered)
    return [x / total for x in powered]


def _probabilities(impl, priorities: torch.Tensor, alpha: float, device: str) -> list[float]:
    result = as_cpu_tensor(impl(priorities.to(device), alpha), "per_probabilities")
    if list(result.shape) != list(priorities.shape):
        raise AssertionError(
            f"per_probabilities: shape {list(result.shape)}, expected {list(priorities.shape)}"
        )
    return result.tolist()


def assert_relatively_close(actual: list[float], expected: list[float], what: str) -> None:
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        if not abs(got - want) <= FLOAT32_RTOL * abs(want):
            raise AssertionError(
                f"{what}: element {index} is {got!r}, expected {want!r} "
                f"(relative tolerance {FLOAT32_RTOL:g})"
            )


@given(priorities=priority_vectors(), alpha=alphas)
def test_matches_definition(impl, device, priorities, alpha):
    """Equals p_i^alpha / sum_k p_k^alpha, alpha applied once, element by element."""
    assert_relatively_close(
        _probabilities(impl, priorities, alpha, device),
        oracle(priorities, alpha),
        what=f"P(i) for priorities {priorities.tolist()} and alpha {alpha!r}",
    )


@given(priorities=priority_vectors(), alpha=alphas)
def test_sums_to_one(impl, device, priorities, alpha):
    """The probabilities sum to 1."""
    total = math.fsum(_probabilities(impl, priorities, alpha, device))
    if abs(total - 1.0) > FLOAT32_RTOL:
        raise AssertionError(f"probabilities sum to {total!r}, not 1")


@given(priorities=priority_vectors(some_positive=False))
def test_alpha_zero_is_uniform(impl, device, priorities):
    """alpha = 0 gives 1/N for every transition, zero priorities included."""
    size = priorities.shape[0]
    assert_relatively_close(
        _probabilities(impl, priorities, 0.0, device),
        [1.0 / size] * size,
        what=f"P(i) at alpha = 0 for priorities {priorities.tolist()}",
    )


@given(priorities=priority_vectors(), alpha=positive_alphas)
def test_zero_priority_is_never_sampled(impl, device, priorities, alpha):
    """For alpha > 0, P(i) is exactly 0 where p_i = 0 and positive where p_i > 0."""
    probabilities = _probabilities(impl, priorities, alpha, device)
    for index, (p, prob) in enumerate(zip(priorities.tolist(), probabilities, strict=True)):
        if (p == 0) != (prob == 0) or prob < 0:
            raise AssertionError(
                f"priority {p!r} at {index} got probability {prob!r} at alpha {alpha!r}"
            )


@given(priorities=priority_vectors(), alpha=alphas)
def test_order_preserving(impl, device, priorities, alpha):
    """A larger priority never gets a smaller probability; equal priorities, equal ones."""
    probabilities = _probabilities(impl, priorities, alpha, device)
    pairs = list(zip(priorities.tolist(), probabilities, strict=True))
    for i, (p_i, prob_i) in enumerate(pairs):
        for j, (p_j, prob_j) in enumerate(pairs):
            slack = FLOAT32_RTOL * max(prob_i, prob_j)
            if (p_i < p_j and prob_i > prob_j + slack) or (
                p_i == p_j and abs(prob_i - prob_j) > slack
            ):
                raise AssertionError(
                    f"priorities {p_i!r} (at {i}) and {p_j!r} (at {j}) got probabilities "
                    f"{prob_i!r} and {prob_j!r} at alpha {alpha!r}"
                )


@given(
    priorities=priority_vectors(),
    alpha=alphas,
    scale=st.one_of(st.sampled_from([1e-3, 0.5, 2.0, 1e3]), st.floats(1e-3, 1e3)),
)
def test_scale_invariant(impl, device, priorities, alpha, scale):
    """Multiplying every priority by c > 0 leaves the probabilities unchanged."""
    scaled = priorities * scale
    assert_relatively_close(
        _probabilities(impl, scaled, alpha, device),
        oracle(priorities, alpha),
        what=f"P(i) for priorities {priorities.tolist()} times {scale!r}, alpha {alpha!r}",
    )
