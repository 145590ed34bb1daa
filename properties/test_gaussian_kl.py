"""Properties of ``gaussian_kl``: KL of diagonal Gaussians, summed over the K action dimensions,
``sum_k [log(s_q/s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2]``.

Spec: Policy losses and distributions. Seed: :four: TRPO / KL 散度 (连续分布).

Input space: means in ``[-10, 10]``, standard deviations ``exp(u)`` with ``u`` in ``[-3, 3]``
(0.05 to 20: the range of a Gaussian policy's ``exp(log_std)`` in practice), ``K`` from 1 to 6.
``wide_gaussian_pairs`` (1 to 64 rows, 1024 to 4096 in ``test_large_batch``; ``K`` from 1 to
64) fills rows from a seeded generator: row ``b`` has its own log-scale ``c_b`` (uniform in
``[-16, 3]``, or in ``[-16, -8]`` for every row: standard deviations down to ``e^-16 = 1e-7``),
``log s_p = c_b + U(-1, 1)``, ``log s_q = c_b + U(-1, 1)``, means ``e^c_b U(-10, 10)`` and
``m_q = m_p + s_q U(-3, 3)``. The means sit at the scale of the standard deviations because the
KL is invariant to a common shift, while a shift of 10 at ``s = 1e-7`` is past float32's
resolution of the means (the KL would then measure rounding). There a log-determinant formed as
``log(prod(var))`` underflows (``e^-2048`` for 64 dimensions at ``s = e^-16``), an epsilon in
``log(var + 1e-8)`` swamps the variance, and a mean over dimensions or over the batch is wrong
by a factor ``K`` or ``B``.

Tolerances: float32 accuracy relative to the largest per-row sum of the magnitudes of the
terms (``|log(s_q/s_p)| + (s_p^2 + (m_p-m_q)^2)/(2 s_q^2) + 1/2``): each term is a few
roundings from its inputs, and the sum cancels at most what the terms contribute. The wide
properties judge each row at its own such sum ``S_b``, plus what float32 rounding of the inputs
and of separately taken logarithms costs: ``log s_q - log s_p`` taken as a difference of two
logarithms errs by ``u (|log s_p| + |log s_q|)`` (``u = 2**-24``; 32u per dimension at
``e^-16``), and rounding the means moves ``((m_p - m_q)/s_q)^2`` by
``2u |m_p - m_q| (|m_p| + |m_q|) / s_q^2``; so row ``b`` is judged within
``FLOAT32_RTOL max(1, S_b) + 8u sum_k (|log s_p| + |log s_q| + M_k)``, with
``M_k = |m_p - m_q| (|m_p| + |m_q|) / s_q^2``.

Monte Carlo: ``test_matches_monte_carlo_estimate`` draws ``n = 10000`` samples of ``x ~ p``
with a hypothesis-seeded ``torch.Generator`` and compares the implementation with the
sample mean of ``log p(x) - log q(x)`` within 5 standard errors (computed from the sample)
plus the float tolerance. Standard deviations there are within a factor ``e`` of each
other and mean gaps at most 2 (3.3 standard deviations), so the log-ratio (a quadratic in a
Gaussian) has light tails and the normal approximation holds at this ``n``: a correct
implementation fails a row with probability about ``6e-7``, at most ``60 * 8 * 6e-7 ≈ 3e-4``
per pytest run of the dev profile (``1e-3`` under ci), and never under ``drlspec verify``
(fixed seeds).
"""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Independent, Normal, kl_divergence

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from drlspec.properties.policy_strategies import U32, large_batches
from drlspec.properties.strategies import float_dtypes, real_tensors, torch_generators

CONTRACT = "gaussian_kl"

rows = st.integers(min_value=1, max_value=8)
dimensions = st.integers(min_value=1, max_value=6)
wide_rows = st.integers(min_value=1, max_value=64)
NAMES = ("mean_p", "std_p", "mean_q", "std_q")


@st.composite
def gaussian_pairs(
    draw: st.DrawFn, mean_bound: float = 10.0, log_std_bound: float = 3.0, grid: bool = False
) -> dict:
    batch, dims = draw(rows), draw(dimensions)
    dtype = draw(float_dtypes)
    inputs = {}
    for name in NAMES:
        if name.startswith("mean"):
            value = draw(real_tensors((batch, dims), torch.float64, bound=mean_bound))
            if grid:  # multiples of 1/256: x * 2**j + c stays exact (|x| <= 10, j >= -3)
                value = torch.round(value * 256) / 256
        else:
            log_std = draw(real_tensors((batch, dims), torch.float64, bound=log_std_bound))
            value = torch.exp(log_std)  # scaling by 2**j is exact, no grid needed
        inputs[name] = value.to(dtype)
    return inputs


def _terms(mean_p, std_p, mean_q, std_q) -> list[list[tuple[float, float, float]]]:
    """Per row and dimension: (log(s_q/s_p), (s_p^2 + (m_p-m_q)^2) / (2 s_q^2), -1/2)."""
    table = []
    for row in zip(mean_p.tolist(), std_p.tolist(), mean_q.tolist(), std_q.tolist(), strict=True):
        table.append(
            [
                (math.log(sq / sp), (sp * sp + (mp - mq) ** 2) / (2 * sq * sq), -0.5)
                for mp, sp, mq, sq in zip(*row, strict=True)
            ]
        )
    return table


def oracle(mean_p, std_p, mean_q, std_q) -> torch.Tensor:
    """The closed form, dimension by dimension, summed per row, in float64."""
    table = _terms(mean_p, std_p, mean_q, std_q)
    return torch.tensor([sum(sum(t) for t in row) for row in table], dtype=torch.float64)


def _scale(inputs: dict) -> float:
    table = _terms(*(inputs[n] for n in NAMES))
    return max(sum(sum(abs(x) for x in t) for t in row) for row in table)


def _call(impl, inputs: dict, device: str):
    return impl(*(inputs[n].to(device) for n in NAMES))


@given(inputs=gaussian_pairs())
def test_matches_definition(impl, device, inputs):
    """Equals sum_k [log(s_q/s_p) + (s_p^2 + (m_p-m_q)^2)/(2 s_q^2) - 1/2] per row."""
    assert_close(
        _call(impl, inputs, device),
        oracle(*(inputs[n] for n in NAMES)),
        what="gaussian_kl",
        scale=_scale(inputs),
    )


@st.composite
def wide_gaussian_pairs(draw: st.DrawFn, batches=wide_rows) -> dict:
    """Rows from a seeded generator, each at its own log-scale c_b (module docstring)."""
    batch, dims = draw(batches), draw(st.one_of(st.integers(1, 8), st.integers(1, 64)))
    dtype = draw(float_dtypes)
    generator = draw(torch_generators)
    low, high = draw(st.sampled_from([(-16.0, 3.0), (-16.0, -8.0)]))

    def uniform(shape: tuple[int, ...], a: float, b: float) -> torch.Tensor:
        return a + (b - a) * torch.rand(shape, generator=generator, dtype=torch.float64)

    scale = uniform((batch, 1), low, high)
    std_p = torch.exp(scale + uniform((batch, dims), -1.0, 1.0))
    std_q = torch.exp(scale + uniform((batch, dims), -1.0, 1.0))
    mean_p = torch.exp(scale) * uniform((batch, dims), -10.0, 10.0)
    mean_q = mean_p + std_q * uniform((batch, dims), -3.0, 3.0)
    values = {"mean_p": mean_p, "std_p": std_p, "mean_q": mean_q, "std_q": std_q}
    return {name: value.to(dtype) for name, value in values.items()}


def _vector_terms(inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row and dimension, float64: log(s_q/s_p), (s_p^2 + (m_p-m_q)^2)/(2 s_q^2)."""
    mean_p, std_p, mean_q, std_q = (inputs[n].double() for n in NAMES)
    log_ratio = torch.log(std_q) - torch.log(std_p)
    quadratic = (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2)
    return log_ratio, quadratic


def vector_oracle(inputs: dict) -> torch.Tensor:
    """The closed form, vectorised in float64, summed over the K dimensions of each row."""
    log_ratio, quadratic = _vector_terms(inputs)
    return (log_ratio + quadratic - 0.5).sum(dim=1)


def row_tolerance(inputs: dict) -> torch.Tensor:
    """Per row: FLOAT32_RTOL max(1, S_b) + 8u sum_k(...) (module docstring)."""
    mean_p, std_p, mean_q, std_q = (inputs[n].double() for n in NAMES)
    log_ratio, quadratic = _vector_terms(inputs)
    magnitude = (log_ratio.abs() + quadratic + 0.5).sum(dim=1)
    logs = torch.log(std_p).abs() + torch.log(std_q).abs()
    means = (mean_p - mean_q).abs() * (mean_p.abs() + mean_q.abs()) / std_q**2
    return FLOAT32_RTOL * magnitude.clamp(min=1.0) + 8 * U32 * (logs + means).sum(dim=1)


@given(inputs=wide_gaussian_pairs())
def test_matches_definition_small_stds_many_dimensions(impl, device, inputs):
    """Standard deviations down to e^-16, up to 64 dimensions, 1 to 64 rows: every row equals
    its closed form at its own scale (the sum over dimensions, not the mean; no reduction over
    rows; no log-determinant that underflows; no epsilon added to the variance)."""
    assert_close(
        _call(impl, inputs, device),
        vector_oracle(inputs),
        what="gaussian_kl with small standard deviations",
        tolerance=row_tolerance(inputs),
    )


@given(inputs=wide_gaussian_pairs(batches=large_batches))
@settings(max_examples=4)
def test_large_batch(impl, device, inputs):
    """B from 1024 to 4096 rows (up to 64 dimensions): every row equals its closed form."""
    assert_close(
        _call(impl, inputs, device),
        vector_oracle(inputs),
        what="gaussian_kl, large batch",
        tolerance=row_tolerance(inputs),
    )


@given(inputs=gaussian_pairs())
def test_matches_torch_distributions(impl, device, inputs):
    """Agrees with torch.distributions.kl_divergence of Independent(Normal, 1) (float64)."""
    p = Independent(Normal(inputs["mean_p"].double(), inputs["std_p"].double()), 1)
    q = Independent(Normal(inputs["mean_q"].double(), inputs["std_q"].double()), 1)
    assert_close(
        _call(impl, inputs, device),
        kl_divergence(p, q),
        what="gaussian_kl vs torch.distributions.kl_divergence",
        scale=_scale(inputs),
    )


@given(inputs=gaussian_pairs())
def test_nonnegative(impl, device, inputs):
    """KL(p || q) >= 0 for every row."""
    result = as_cpu_tensor(_call(impl, inputs, device), "KL")
    tolerance = FLOAT32_RTOL * max(_scale(inputs), 1.0)
    worst = int(result.argmin())
    assert result[worst] >= -tolerance, (
        f"row {worst}: KL is {result[worst].item()!r} < 0 (tolerance {tolerance:.3g})"
    )


@given(inputs=gaussian_pairs())
def test_zero_for_equal_distributions(impl, device, inputs):
    """KL(p || p) = 0."""
    same = dict(inputs, mean_q=inputs["mean_p"], std_q=inputs["std_p"])
    batch = inputs["mean_p"].shape[0]
    assert_close(
        _call(impl, same, device),
        torch.zeros(batch, dtype=torch.float64),
        what="KL(p || p)",
        scale=_scale(same),
    )


@given(inputs=gaussian_pairs())
def test_sums_over_action_dimensions(impl, device, inputs):
    """The KL of [B, K] inputs is the sum of the K one-dimensional KLs ([B, 1] slices)."""
    dims = inputs["mean_p"].shape[1]
    parts = [
        as_cpu_tensor(
            _call(impl, {n: inputs[n][:, k : k + 1] for n in NAMES}, device), "KL of one dimension"
        )
        for k in range(dims)
    ]
    assert_close(
        _call(impl, inputs, device),
        torch.stack(parts).sum(dim=0),
        what="KL vs the sum of per-dimension KLs",
        scale=_scale(inputs),
    )


@given(inputs=gaussian_pairs())
def test_rows_are_independent(impl, device, inputs):
    """Row b of the batched result equals the KL of row b alone."""
    batched = as_cpu_tensor(_call(impl, inputs, device), "KL")
    singles = torch.cat(
        [
            as_cpu_tensor(_call(impl, {n: inputs[n][b : b + 1] for n in NAMES}, device), "KL")
            for b in range(inputs["mean_p"].shape[0])
        ]
    )
    assert_close(batched, singles, what="batched KL vs row-by-row KL", scale=_scale(inputs))


@given(
    inputs=gaussian_pairs(grid=True),
    shift=st.integers(-20, 20),
    exponent=st.integers(-3, 3),
)
def test_invariant_to_affine_change_of_units(impl, device, inputs, shift, exponent):
    """Changing the action units (x -> 2^j x + c for both distributions) leaves the KL unchanged."""
    factor = 2.0**exponent
    moved = {n: inputs[n] * factor + (shift if n.startswith("mean") else 0) for n in NAMES}
    before = as_cpu_tensor(_call(impl, inputs, device), "KL")
    assert_close(
        _call(impl, moved, device),
        before,
        what=f"KL after x -> {factor:g} x + {shift}",
        scale=_scale(inputs),
    )


@st.composite
def wide_and_narrow(draw: st.DrawFn) -> dict:
    """p wide, q narrow (std ratio 4 to 20) with the same means: KL(p||q) >> KL(q||p)."""
    inputs = draw(gaussian_pairs(log_std_bound=0.5))
    ratio = draw(st.floats(4.0, 20.0))
    dtype = inputs["mean_p"].dtype
    inputs["mean_q"] = inputs["mean_p"].clone()
    inputs["std_q"] = (inputs["std_p"].double() / ratio).to(dtype)
    return inputs


@given(inputs=wide_and_narrow())
def test_asymmetric_order_of_arguments(impl, device, inputs):
    """KL(p||q) is not KL(q||p): each order matches its own definition (wide p, narrow q)."""
    swapped = dict(
        mean_p=inputs["mean_q"],
        std_p=inputs["std_q"],
        mean_q=inputs["mean_p"],
        std_q=inputs["std_p"],
    )
    forward = oracle(*(inputs[n] for n in NAMES))
    backward = oracle(*(swapped[n] for n in NAMES))
    assert bool(((forward - backward).abs() >= 1.0).all())  # the inputs keep the orders apart
    scale = max(_scale(inputs), _scale(swapped))
    assert_close(_call(impl, inputs, device), forward, what="KL(wide p || narrow q)", scale=scale)
    assert_close(_call(impl, swapped, device), backward, what="KL(narrow q || wide p)", scale=scale)


SAMPLES = 10_000
STANDARD_ERRORS = 5.0


@given(inputs=gaussian_pairs(mean_bound=1.0, log_std_bound=0.5), generator=torch_generators)
def test_matches_monte_carlo_estimate(impl, device, inputs, generator):
    """Within 5 standard errors of the sample mean of log p(x) - log q(x) over x ~ p (n = 10000)."""
    mean_p, std_p = inputs["mean_p"].double(), inputs["std_p"].double()
    mean_q, std_q = inputs["mean_q"].double(), inputs["std_q"].double()
    noise = torch.randn((SAMPLES, *mean_p.shape), generator=generator, dtype=torch.float64)
    samples = mean_p + std_p * noise  # [n, B, K]
    log_ratios = (
        Normal(mean_p, std_p).log_prob(samples) - Normal(mean_q, std_q).log_prob(samples)
    ).sum(dim=2)  # [n, B]
    estimate = log_ratios.mean(dim=0)
    standard_error = log_ratios.std(dim=0) / math.sqrt(SAMPLES)
    result = as_cpu_tensor(_call(impl, inputs, device), "KL")
    assert result.shape == estimate.shape, f"KL has shape {list(result.shape)}"
    allowed = STANDARD_ERRORS * standard_error + FLOAT32_RTOL * max(_scale(inputs), 1.0)
    worst = int(((result - estimate).abs() - allowed).argmax())
    assert (result - estimate).abs()[worst] <= allowed[worst], (
        f"row {worst}: KL {result[worst].item()!r} but the Monte Carlo estimate of "
        f"E_p[log p - log q] is {estimate[worst].item()!r} ± {standard_error[worst].item():.3g} "
        f"(standard error; allowed {STANDARD_ERRORS:g} of them)"
    )
