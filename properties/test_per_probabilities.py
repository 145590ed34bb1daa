"""Properties of ``per_probabilities``: ``P(i) = p_i^alpha / sum_k p_k^alpha``.

``p_i = |delta_i| + eps`` is computed by the caller; alpha is applied once
(the seed applies it twice; see docs/errata.md). ``alpha = 0`` is uniform
sampling whatever the priorities, zeros included (``0**0 = 1``, as in numpy,
torch and Python); for ``alpha > 0`` a zero priority gets probability exactly
0: such a transition must never be replayed.

Spec: Prioritized replay. Seed: :six: Prioritized Experience Replay.
Paper: Schaul et al. (2016), eq. 1.

Inputs: N = 1..32 priorities in the element-wise properties, N up to 4096
(log-uniform) against a vectorised float64 oracle, and explicitly N = 4351,
10 000 and 65 537; a third (or a random share) of them 0, the others from
``1e-12`` to ``1e12`` (log-uniform over a random number of decades, so that
both narrow and 24-decade spreads come up), in float32 and float64. alpha:
exactly 0 and 1, tiny positive (``1e-30 .. 1e-3``, log-uniform), uniform on
``[0, 1]``, ``1 - 10^-k``, and above 1 up to 32 (log-uniform): the contract
takes any alpha ``>= 0``.

What the contract demands at the extremes. ``P`` is invariant to scaling
``p``, so the result is defined, and representable, for every finite
priority vector and alpha: the largest ``P`` is at least ``1/N``. An
implementation must return it; one that forms ``p^alpha`` unscaled overflows
(``(1e12)^32 = 1e384``) or underflows (``(1e-12)^30``, every term 0, 0/0)
where ``(p / max p)^alpha`` does not, and fails. Probabilities below float32's
smallest normal number ``2^-126`` may be returned as 0 or with any relative
error (a float32 implementation cannot hold them); every other probability of
a positive priority is positive. A positive alpha below ``2^-126`` (which
float32 rounds to 0, turning zero priorities sampleable) is outside what is
drawn.

Tolerance, element by element, for a result that is correct to float32:

    |P̂(i) - P(i)| <= (N + 4 + 2 alpha max(3, 4 L)) u P(i) + 2^-126

with ``u = 2**-24`` and ``L = max |ln p_k|`` over the positive priorities
(or ``FLOAT32_RTOL P(i)`` if larger). Why it bounds a float32
implementation, in either of the two usual forms:

* scaled powers, ``(p / max p)^alpha``: rounding ``p`` and ``max p`` to
  float32 and dividing errs by ``3u`` relative, the power multiplies that by
  alpha and adds about ``2u`` (``powf``): ``(3 alpha + 2) u`` per term;
* log space, ``softmax(alpha log p)``: each float32 logarithm errs by
  ``u |ln p| <= u L`` absolutely, the difference ``ln p - ln max`` (at most
  ``2L``) by one more rounding, the product with alpha by another: the
  exponent is off by ``alpha u (L + L + 2L + ... ) <= 4 alpha L u`` and
  ``exp`` turns that into a relative error, plus ``2u``.

A sum of N positive terms in any order errs by ``(N - 1) u`` (Higham,
*Accuracy and Stability of Numerical Algorithms*, eq. 4.4) plus the terms'
own error, the division by ``u``: in all ``(N + 4 + 2 alpha max(3, 4L)) u``
to first order. At N = 32, alpha = 1 and priorities within ``1e-3 .. 1e3``
that is ``1e-5`` at most; it grows to ``2e-4`` only at alpha = 32 with
priorities of ``1e12``, where a wrong exponent is off by orders of magnitude.
The float64 oracles err by ``~1e-15`` relative. Zeros must be exactly 0. A
relative tolerance sees the smallest probabilities, which is where applying
alpha twice shows most.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from drlspec.properties.replay_strategies import FLOAT32_TINY, UNIT_ROUNDOFF, log_uniform_array
from drlspec.properties.strategies import batch_sizes, float_dtypes, log_uniform

CONTRACT = "per_probabilities"

priority_values = st.one_of(
    st.just(0.0),
    st.sampled_from([1e-12, 1e-3, 0.5, 1.0, 3.0, 1e3, 1e12]),
    st.floats(min_value=1e-3, max_value=1e3, allow_subnormal=False),
    log_uniform(1e-12, 1e12),
)
# alpha = 0 is a discontinuity (zero priorities jump from P = 0 to 1/N), so a
# positive alpha that float32 would round to 0 is not a fair input: positive
# alphas start at 1e-30, a float32 normal number.
positive_alphas = st.one_of(
    st.sampled_from([0.5, 1.0]),
    log_uniform(1e-30, 1e-3),
    st.floats(min_value=1e-3, max_value=1.0),
    st.integers(min_value=1, max_value=16).map(lambda k: 1.0 - 10.0**-k),
    log_uniform(1.0, 32.0),
)
alphas = st.one_of(st.just(0.0), positive_alphas)


def relative_tolerance(priorities: torch.Tensor, alpha: float) -> float:
    """``(N + 4 + 2 alpha max(3, 4 L)) u``, at least ``FLOAT32_RTOL`` (module docstring)."""
    p = priorities.double()
    positive = p[p > 0]
    largest_log = float(positive.log().abs().max()) if positive.numel() else 0.0
    terms = p.numel() + 4 + 2 * alpha * max(3.0, 4.0 * largest_log)
    return max(FLOAT32_RTOL, terms * UNIT_ROUNDOFF)


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


def oracle(priorities: torch.Tensor, alpha: float) -> np.ndarray:
    """The definition in float64, scaled by the largest priority, with an exactly rounded sum.

    ``0.0 ** 0.0 == 1.0``; scaling by the largest priority keeps every power
    in range (``(p / max)^alpha <= 1``) and changes nothing in exact
    arithmetic. Vectorised ``numpy`` powers and ``math.fsum``: fast for N in
    the tens of thousands.
    """
    p = priorities.double().numpy()
    largest = p.max()
    scaled = np.ones_like(p) if alpha == 0 else (p / largest) ** alpha
    return scaled / math.fsum(scaled.tolist())


def _probabilities(impl, priorities: torch.Tensor, alpha: float, device: str) -> np.ndarray:
    result = as_cpu_tensor(impl(priorities.to(device), alpha), "per_probabilities")
    if list(result.shape) != list(priorities.shape):
        raise AssertionError(
            f"per_probabilities: shape {list(result.shape)}, expected {list(priorities.shape)}"
        )
    return result.numpy()


def _shown(priorities: torch.Tensor) -> str:
    if priorities.numel() <= 32:
        return str(priorities.tolist())
    p = priorities.double()
    positive = p[p > 0]
    return (
        f"{p.numel()} priorities, {positive.numel()} positive in "
        f"[{positive.min().item():.3g}, {positive.max().item():.3g}]"
    )


def assert_close_to_definition(
    actual: np.ndarray, expected: np.ndarray, priorities: torch.Tensor, alpha: float, what: str
) -> None:
    """Element by element within ``relative_tolerance * P + 2^-126``; a zero must be exactly 0."""
    rtol = relative_tolerance(priorities, alpha)
    bound = np.where(expected == 0, 0.0, rtol * expected + FLOAT32_TINY)
    wrong = ~(np.abs(actual - expected) <= bound)  # NaN is wrong
    if wrong.any():
        index = int(np.flatnonzero(wrong)[0])
        raise AssertionError(
            f"{what}: element [n={index}] is {float(actual[index])!r}, expected "
            f"{float(expected[index])!r} (relative tolerance {rtol:.3g} + {FLOAT32_TINY:.3g})"
        )


@given(priorities=priority_vectors(), alpha=alphas)
def test_matches_definition(impl, device, priorities, alpha):
    """Equals p_i^alpha / sum_k p_k^alpha, alpha applied once, element by element."""
    assert_close_to_definition(
        _probabilities(impl, priorities, alpha, device),
        oracle(priorities, alpha),
        priorities,
        alpha,
        what=f"P(i) for priorities {_shown(priorities)} and alpha {alpha!r}",
    )


@given(priorities=priority_vectors(), alpha=alphas)
def test_sums_to_one(impl, device, priorities, alpha):
    """The probabilities sum to 1 (within the element-wise tolerance)."""
    total = math.fsum(_probabilities(impl, priorities, alpha, device).tolist())
    bound = relative_tolerance(priorities, alpha) + priorities.numel() * FLOAT32_TINY
    if not abs(total - 1.0) <= bound:
        raise AssertionError(f"probabilities sum to {total!r}, not 1 (tolerance {bound:.3g})")


@given(priorities=priority_vectors(some_positive=False))
def test_alpha_zero_is_uniform(impl, device, priorities):
    """alpha = 0 gives 1/N for every transition, zero priorities included."""
    size = priorities.shape[0]
    assert_close_to_definition(
        _probabilities(impl, priorities, 0.0, device),
        np.full(size, 1.0 / size),
        priorities,
        0.0,
        what=f"P(i) at alpha = 0 for priorities {_shown(priorities)}",
    )


def check_zeros_and_positives(
    probabilities: np.ndarray, priorities: torch.Tensor, alpha: float
) -> None:
    """P = 0 exactly where p = 0; P > 0 where p > 0 and the exact P is a float32 normal number."""
    p = priorities.double().numpy()
    exact = oracle(priorities, alpha)
    wrong = ((p == 0) & (probabilities != 0)) | ((exact >= FLOAT32_TINY) & ~(probabilities > 0))
    wrong |= ~(probabilities >= 0)
    if wrong.any():
        index = int(np.flatnonzero(wrong)[0])
        raise AssertionError(
            f"priority {p[index]!r} at [n={index}] got probability {float(probabilities[index])!r} "
            f"at alpha {alpha!r} (exact {float(exact[index])!r})"
        )


@given(priorities=priority_vectors(), alpha=positive_alphas)
def test_zero_priority_is_never_sampled(impl, device, priorities, alpha):
    """For alpha > 0, P(i) is exactly 0 where p_i = 0 and positive where p_i > 0."""
    check_zeros_and_positives(_probabilities(impl, priorities, alpha, device), priorities, alpha)


@given(priorities=priority_vectors(), alpha=alphas)
def test_order_preserving(impl, device, priorities, alpha):
    """A larger priority never gets a smaller probability; equal priorities, equal ones."""
    probabilities = _probabilities(impl, priorities, alpha, device)
    rtol = relative_tolerance(priorities, alpha)
    pairs = list(zip(priorities.tolist(), probabilities.tolist(), strict=True))
    for i, (p_i, prob_i) in enumerate(pairs):
        for j, (p_j, prob_j) in enumerate(pairs):
            slack = 2 * (rtol * max(prob_i, prob_j) + FLOAT32_TINY)
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
    scale=st.one_of(st.sampled_from([1e-6, 0.5, 2.0, 1e6]), log_uniform(1e-6, 1e6)),
)
def test_scale_invariant(impl, device, priorities, alpha, scale):
    """Multiplying every priority by c > 0 leaves the probabilities unchanged."""
    scaled = priorities * scale
    assert_close_to_definition(
        _probabilities(impl, scaled, alpha, device),
        oracle(priorities, alpha),
        scaled,
        alpha,
        what=f"P(i) for priorities {_shown(priorities)} times {scale!r}, alpha {alpha!r}",
    )


def large_priorities(
    rng: np.random.Generator, size: int, low: float, high: float, zeros: float, dtype
) -> torch.Tensor:
    """``[size]`` priorities log-uniform on ``[low, high]``, a share ``zeros`` of them 0."""
    values = log_uniform_array(rng, low, high, size)
    values[rng.random(size) < zeros] = 0.0
    values[rng.integers(0, size)] = high
    return torch.from_numpy(values).to(dtype)


def check_large(impl, device, priorities: torch.Tensor, alpha: float) -> None:
    probabilities = _probabilities(impl, priorities, alpha, device)
    what = f"P(i) for {_shown(priorities)} ({priorities.dtype}), alpha {alpha!r}"
    expected = oracle(priorities, alpha)
    assert_close_to_definition(probabilities, expected, priorities, alpha, what=what)
    if alpha > 0:
        check_zeros_and_positives(probabilities, priorities, alpha)


@given(
    size=log_uniform(1.0, 4096.0).map(round),
    decades=st.floats(0.0, 24.0),
    zeros=st.sampled_from([0.0, 1 / 3, 0.9]),
    alpha=alphas,
    dtype=float_dtypes,
    seed=st.integers(0, 2**32 - 1),
)
def test_large_batches_against_float64(impl, device, size, decades, zeros, alpha, dtype, seed):
    """N up to 4096, priorities over up to 24 decades within [1e-12, 1e12], match float64."""
    rng = np.random.default_rng(seed)
    low = 10.0 ** rng.uniform(-12.0, 12.0 - decades)
    priorities = large_priorities(rng, size, low, low * 10.0**decades, zeros, dtype)
    check_large(impl, device, priorities, alpha)


# (N, lowest and highest priority, share of zeros, alpha): the ends of the range.
EXTREME_CASES = (
    (10_000, 1e-12, 1e12, 1 / 3, 32.0),  # (1e12)^32 overflows float64 unscaled
    (4351, 1e-12, 1e-11, 0.0, 30.0),  # (1e-12)^30 underflows float64 unscaled: 0/0
    (4351, 1e-12, 1e12, 0.5, 1.0),  # 24 decades of probabilities, N = 17 * 256 - 1
    (65_537, 0.5, 2.0, 1 / 3, 0.6),  # the paper's alpha, a large buffer
    (10_000, 1e-12, 1e12, 1 / 3, 0.0),  # uniform, zeros included
    (4096, 1e-12, 1e12, 0.0, 1e-30),  # tiny alpha: every positive priority alike
)


def test_extreme_batches_against_float64(impl, device):
    """Fixed large batches at the ends of the range: overflow, underflow, 24 decades, N = 65 537."""
    rng = np.random.default_rng(13)
    for size, low, high, zeros, alpha in EXTREME_CASES:
        for dtype in (torch.float64, torch.float32):
            priorities = large_priorities(rng, size, low, high, zeros, dtype)
            check_large(impl, device, priorities, alpha)
