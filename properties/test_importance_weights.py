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

Inputs: B = 1..32 probabilities in the element-wise properties, B up to 4096
(log-uniform) against a vectorised float64 oracle, and explicitly B = 33,
4099 and 65 536; probabilities in ``[1e-12, 1]`` (log-uniform over a random
number of decades, uniform, the ends), sometimes drawn from a pool of three
so that ties are common, in float32 and float64; ``size`` from 1 to 10**6
(log-uniform and the ends); beta from ``unit_interval()``: exactly 0 and 1,
tiny positive down to ``1e-300``, ``1 - 10^-k`` for k up to 16, uniform.

Tolerance: weights are compared relatively within ``FLOAT32_RTOL = 1e-5``,
derived for a float32 implementation, ``u = 2**-24``: rounding ``P`` and
``min P`` to float32 and dividing errs by ``3u``, the power multiplies that by
``beta <= 1`` and adds ``~2u``: ``5u``. Computed in log space instead,
``exp(-beta (log P - log min P))``, each float32 logarithm errs by
``u |log P| <= 28u`` absolutely (``P >= 1e-12``), the difference by one more
rounding of a number ``<= 28``: the exponent is off by at most ``84u``
(times ``beta <= 1``), the weight by that relatively plus one rounding:
``85u = 5.1e-6``, inside ``1e-5``. No sum is involved, so the bound does not
grow with B. Weights are at least ``(1e-12)^beta``, float32 normal numbers.
Bounds (max 1, ``w <= 1``, beta = 0 gives 1) allow the same ``1e-5``.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from drlspec.properties.replay_strategies import log_uniform_array
from drlspec.properties.strategies import batch_sizes, float_dtypes, log_uniform, unit_interval

CONTRACT = "importance_weights"

probability_values = st.one_of(
    st.sampled_from([1e-12, 1e-6, 1e-3, 0.5, 1.0]),
    st.floats(min_value=1e-6, max_value=1.0, allow_subnormal=False),
    log_uniform(1e-12, 1.0),
)
sizes = st.one_of(
    st.sampled_from([1, 2, 10**6]),
    st.integers(min_value=1, max_value=10**6),
    log_uniform(1.0, 1e6).map(round),
)
betas = st.one_of(st.just(0.4), unit_interval())
positive_betas = betas.filter(lambda beta: beta > 0)


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
    """The definition in float64: ``(size * P(i))^(-beta)`` over its batch maximum.

    ``size * P`` lies in ``[1e-12, 1e6]``, so its power stays in range for
    ``beta <= 1``; numpy, vectorised, errs by a few ``2**-53``.
    """
    raw = (size * probabilities.double().numpy()) ** (-beta)
    return (raw / raw.max()).tolist()


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
                f"{what}: element [b={index}] is {got!r}, expected {want!r} "
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
            raise AssertionError(f"weight [b={index}] is {weight!r}, outside (0, 1]: {weights}")


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


def large_batch(
    rng: np.random.Generator, batch: int, decades: float, pool: int, dtype: torch.dtype
) -> torch.Tensor:
    """``[batch]`` probabilities log-uniform over ``decades`` decades below 1, from ``pool`` values.

    ``pool = 0`` draws every element afresh; a small pool makes ties.
    """
    low = 10.0 ** rng.uniform(-12.0, -decades) if decades < 12 else 1e-12
    values = log_uniform_array(rng, low, min(1.0, low * 10.0**decades), pool or batch)
    if pool:
        values = rng.choice(values, size=batch)
    return torch.from_numpy(values).to(dtype)


def check_large(impl, device, probabilities: torch.Tensor, size: int, beta: float) -> None:
    weights = np.array(_weights(impl, probabilities, size, beta, device))
    expected = np.array(oracle(probabilities, size, beta))
    wrong = ~(np.abs(weights - expected) <= FLOAT32_RTOL * expected)  # NaN is wrong
    if wrong.any():
        index = int(np.flatnonzero(wrong)[0])
        p = probabilities.double()
        raise AssertionError(
            f"w_i for B = {p.numel()} probabilities in [{p.min().item():.3g}, "
            f"{p.max().item():.3g}] ({probabilities.dtype}), size {size}, beta {beta!r}: element "
            f"[b={index}] (P = {p[index].item()!r}) is {float(weights[index])!r}, expected "
            f"{float(expected[index])!r} (relative tolerance {FLOAT32_RTOL:g})"
        )


@given(
    batch=log_uniform(1.0, 4096.0).map(round),
    decades=st.floats(0.0, 12.0),
    pool=st.sampled_from([0, 1, 3]),
    size=sizes,
    beta=betas,
    dtype=float_dtypes,
    seed=st.integers(0, 2**32 - 1),
)
def test_large_batches_against_float64(impl, device, batch, decades, pool, size, beta, dtype, seed):
    """B up to 4096, probabilities over up to 12 decades within [1e-12, 1], match float64."""
    probabilities = large_batch(np.random.default_rng(seed), batch, decades, pool, dtype)
    check_large(impl, device, probabilities, size, beta)


# (B, decades below 1, size, beta): the ends of every range.
EXTREME_BATCHES = (
    (33, 12.0, 10**6, 1.0),  # one element past a block of 32
    (4099, 12.0, 10**6, 1.0 - 1e-16),
    (4099, 12.0, 1, 1e-300),
    (65_536, 12.0, 10**6, 0.4),
    (4099, 0.5, 3, 1.0),  # every P above 1/size
)


def test_extreme_batches_against_float64(impl, device):
    """Fixed batches at the ends: B = 33, 4099 and 65 536, P down to 1e-12, size 1..10**6."""
    rng = np.random.default_rng(17)
    for batch, decades, size, beta in EXTREME_BATCHES:
        for dtype in (torch.float64, torch.float32):
            probabilities = large_batch(rng, batch, decades, 0, dtype)
            # The smallest probability last: a reduction that stops early misses it.
            smallest = int(probabilities.argmin())
            probabilities[[smallest, -1]] = probabilities[[-1, smallest]]
            check_large(impl, device, probabilities, size, beta)
