"""Properties of ``importance_weights``: ``w_i = (size * P(i))^(-beta) / max_j w_j`` over the batch.

The weights undo the bias of prioritized sampling (``beta = 1`` fully,
``beta = 0`` not at all: all ones). Normalising by the batch's largest
weight keeps them in ``(0, 1]``, so they only scale updates down; under that
normalisation ``size`` cancels, ``w_i = (min_j P(j) / P(i))^beta``, which the
properties pin too (a weight normalised by anything but the batch maximum
depends on ``size``).

Spec: Prioritized replay. Seed: :six: Prioritized Experience Replay /
权重修正, 损失函数 (see docs/errata.md). Paper: Schaul et al. (2016),
Section 3.4 and Algorithm 1, line 10.

Inputs: B = 1..32 probabilities in ``[1e-6, 1]`` (float32 and float64),
sometimes drawn from a pool of three so that ties are common; ``size`` from
1 to 10**6; beta exactly 0 and 1 as well as anywhere in ``[0, 1]``.

Tolerance: weights are compared relatively within ``FLOAT32_RTOL``. In
float32 the ratio (or the product ``size * P``) rounds by ``u = 2**-24``
relative and the power multiplies that by ``beta <= 1`` and adds about one
rounding: a few ``u``, far inside ``1e-5``. Bounds (max 1, ``w <= 1``,
beta = 0 gives 1) allow the same ``1e-5``.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from properties.strategies import batch_sizes, float_dtypes

CONTRACT = "importance_weights"

probability_values = st.one_of(
    st.sampled_from([1e-6, 1e-3, 0.5, 1.0]),
    st.floats(min_value=1e-6, max_value=1.0, allow_subnormal=False),
)
sizes = st.one_of(st.sampled_from([1, 2, 10**6]), st.integers(min_value=1, max_value=10**6))
betas = st.one_of(st.sampled_from([0.0, 0.4, 1.0]), st.floats(min_value=0.0, max_value=1.0))
positive_betas = st.one_of(st.sampled_from([0.4, 1.0]), st.floats(min_value=0.05, max_value=1.0))


@st.composite
def batches(draw: st.DrawFn) -> torch.Tensor:
    """``[B]`` probabilities of a sampled batch; ties come from a small pool."""
    size = draw(batch_sizes)
    elements = draw(
        st.one_of(
            st.just(probability_values),
            st.lists(probability_values, min_size=1, max_size=3).map(st.sampled_from),
        )
    )
    values = draw(st.lists(elements, min_size=size, max_size=size))
    return torch.tensor(values, dtype=draw(float_dtypes))


def oracle(probabilities: torch.Tensor, size: int, beta: float) -> list[float]:
    """The definition in Python floats: ``(size * P(i))^(-beta)`` over its batch maximum."""
    raw = [(size * p) ** (-beta) for p in probabilities.double().tolist()]
    largest = max(raw)
    return [w / largest for w in raw]


def _weights(impl, probabilities: torch.Tensor, size: int, beta: float, device: str) -> list:
    result = as_cpu_tensor(impl(probabilities.to(device), size, beta), "importance_weights")
    if list(result.shape) != list(probabilities.shape):
        raise AssertionError(
            f"importance_weights: shape {list(result.shape)}, expected {list(probabilities.shape)}"
        )
    return result.tolist()


def assert_relatively_close(actual: list[float], expected: list[float], what: str) -> None:
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        if not abs(got - want) <= FLOAT32_RTOL * abs(want):
            raise AssertionError(
                f"{what}: element {index} is {got!r}, expected {want!r} "
                f"(relative tolerance {FLOAT32_RTOL:g})"
            )


@given(probabilities=batches(), size=sizes, beta=betas)
def test_matches_definition(impl, device, probabilities, size, beta):
    """Equals (size * P(i))^(-beta) / max_j (size * P(j))^(-beta), element by element."""
    assert_relatively_close(
        _weights(impl, probabilities, size, beta, device),
        oracle(probabilities, size, beta),
        what=f"w_i for P = {probabilities.tolist()}, size {size}, beta {beta!r}",
    )


@given(probabilities=batches(), size=sizes, beta=betas)
def test_largest_weight_is_one_and_all_in_unit_interval(impl, device, probabilities, size, beta):
    """Every weight is in (0, 1] and the largest is 1: updates are only scaled down."""
    weights = _weights(impl, probabilities, size, beta, device)
    if abs(max(weights) - 1.0) > FLOAT32_RTOL:
        raise AssertionError(f"the largest weight is {max(weights)!r}, not 1: {weights}")
    for index, weight in enumerate(weights):
        if not 0.0 < weight <= 1.0 + FLOAT32_RTOL:
            raise AssertionError(f"weight {index} is {weight!r}, outside (0, 1]: {weights}")


@given(probabilities=batches(), size=sizes)
def test_beta_zero_gives_ones(impl, device, probabilities, size):
    """beta = 0 applies no correction: every weight is 1."""
    weights = _weights(impl, probabilities, size, 0.0, device)
    assert_relatively_close(weights, [1.0] * len(weights), what="weights at beta = 0")


@given(probabilities=batches(), size=sizes, beta=positive_betas)
def test_non_increasing_in_probability(impl, device, probabilities, size, beta):
    """A more probable transition never gets a larger weight; equal P, equal weights."""
    weights = _weights(impl, probabilities, size, beta, device)
    pairs = list(zip(probabilities.tolist(), weights, strict=True))
    for i, (p_i, w_i) in enumerate(pairs):
        for j, (p_j, w_j) in enumerate(pairs):
            slack = FLOAT32_RTOL * max(w_i, w_j)
            if (p_i < p_j and w_i < w_j - slack) or (p_i == p_j and abs(w_i - w_j) > slack):
                raise AssertionError(
                    f"P = {p_i!r} (at {i}) and {p_j!r} (at {j}) got weights {w_i!r} and "
                    f"{w_j!r} at beta {beta!r}"
                )


@given(probabilities=batches(), size=sizes, other_size=sizes, beta=positive_betas)
def test_batch_normalisation_cancels_size(impl, device, probabilities, size, other_size, beta):
    """Normalised by the batch maximum, the weights do not depend on size."""
    assert_relatively_close(
        _weights(impl, probabilities, other_size, beta, device),
        _weights(impl, probabilities, size, beta, device),
        what=f"weights with size {other_size} vs size {size} (P = {probabilities.tolist()})",
    )
