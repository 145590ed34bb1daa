"""Properties of ``categorical_kl``: ``KL(p || q) = sum_a p(a) (log p(a) - log q(a))`` per row,
``p = softmax(logits_p)``, ``q = softmax(logits_q)``.

Spec: Policy losses and distributions. Seed: :four: TRPO / KL 散度 (离散分布).

Input space. Any finite logits are within the contract. The general strategy draws logits in
``[-50, 50]`` (what a trained policy produces; gaps up to 100). ``test_extreme_logit_gaps``
adds per-row gaps of 100 to 1000, where a probability underflows to 0 (float32 below
``e^-103``, float64 below ``e^-745``): the KL there is finite and exactly representable, so an
implementation taking ``log(softmax(x))`` (``-inf``, then ``inf`` or ``nan``) or
``torch.distributions.kl_divergence`` (which returns ``inf`` wherever ``q``'s probability
is 0 in floating point) is wrong there. A policy whose logits drift apart by that much is
a converged policy, exactly the one whose KL a trust region must still measure.

Tolerances. A float32 ``log_softmax`` errs by a few ``u * L`` per log-probability for logits
of magnitude ``L`` (``u = 2**-24``), and the KL weights those errors by ``p``, which sums to 1:
the comparisons use ``FLOAT32_RTOL * max(1, max |logit|)``. Measured: float32 evaluations of
12000 random rows with ``L`` up to 100 and KL up to ~100 stay below 13% of that tolerance.

Monte Carlo. ``test_matches_monte_carlo_estimate`` samples ``n = 20000`` actions from ``p``
with a hypothesis-seeded ``torch.Generator`` and compares the sample mean of
``log p(a) - log q(a)`` with the implementation, within 5 standard errors of that mean
(computed from the sample) plus the float tolerance. Logits there are in ``[-3, 3]``, so the
log-ratio is bounded and the normal approximation is good at this ``n``: a correct
implementation fails a row with probability about ``6e-7`` (two-sided normal tail at 5),
at most ``60 * 8 * 6e-7 ≈ 3e-4`` per pytest run of the dev profile (``1e-3`` under ci),
and never under ``drlspec verify``, whose examples and seeds are fixed.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.distributions import Categorical, kl_divergence

from properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from properties.strategies import float_dtypes, real_tensors, torch_generators

CONTRACT = "categorical_kl"

rows = st.integers(min_value=1, max_value=8)


@st.composite
def logit_pairs(draw: st.DrawFn, bound: float = 50.0, min_actions: int = 1) -> dict:
    batch = draw(rows)
    actions = draw(st.integers(min_actions, 18))
    dtype = draw(float_dtypes)
    return {
        "logits_p": draw(real_tensors((batch, actions), dtype, bound=bound)),
        "logits_q": draw(real_tensors((batch, actions), dtype, bound=bound)),
    }


def _log_softmax_row(logits: list[float]) -> list[float]:
    top = max(logits)
    log_total = top + math.log(sum(math.exp(x - top) for x in logits))
    return [x - log_total for x in logits]


def oracle(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """The definition, row by row, in float64 (log-sum-exp with the maximum taken out)."""
    values = []
    for row_p, row_q in zip(logits_p.tolist(), logits_q.tolist(), strict=True):
        log_p, log_q = _log_softmax_row(row_p), _log_softmax_row(row_q)
        values.append(sum(math.exp(a) * (a - b) for a, b in zip(log_p, log_q, strict=True)))
    return torch.tensor(values, dtype=torch.float64)


def _scale(*logits: torch.Tensor) -> float:
    return max(float(x.abs().max()) for x in logits)


def _call(impl, logits_p: torch.Tensor, logits_q: torch.Tensor, device: str):
    return impl(logits_p.to(device), logits_q.to(device))


@given(inputs=logit_pairs())
def test_matches_definition(impl, device, inputs):
    """Equals sum_a p(a) (log p(a) - log q(a)) per row, with p, q the softmax of the logits."""
    assert_close(
        _call(impl, inputs["logits_p"], inputs["logits_q"], device),
        oracle(**inputs),
        what="categorical_kl",
        scale=_scale(*inputs.values()),
    )


@st.composite
def extreme_gaps(draw: st.DrawFn) -> dict:
    """Per row: q's logit for a likely action of p trails by a gap of 100 to 1000, and p's
    logit for another action trails by another such gap (p underflows there)."""
    inputs = draw(logit_pairs(bound=5.0, min_actions=2))
    logits_p, logits_q = inputs["logits_p"], inputs["logits_q"]
    actions = logits_p.shape[1]
    for row in range(logits_p.shape[0]):
        likely = draw(st.integers(0, actions - 1))
        unlikely = draw(st.integers(0, actions - 2))
        unlikely += unlikely >= likely  # any action but the likely one
        logits_p[row, likely] += 10.0
        logits_q[row, likely] -= draw(st.floats(100.0, 1000.0))
        logits_p[row, unlikely] -= draw(st.floats(100.0, 1000.0))
    return inputs


@given(inputs=extreme_gaps())
def test_extreme_logit_gaps(impl, device, inputs):
    """Exact and finite where probabilities underflow to 0 (logit gaps of 100 to 1000)."""
    assert_close(
        _call(impl, inputs["logits_p"], inputs["logits_q"], device),
        oracle(**inputs),
        what="categorical_kl with logit gaps of 100 to 1000",
        scale=_scale(*inputs.values()),
    )


@given(inputs=logit_pairs())
def test_matches_torch_distributions(impl, device, inputs):
    """Agrees with torch.distributions.kl_divergence of Categoricals (float64, |logits| <= 50)."""
    expected = kl_divergence(
        Categorical(logits=inputs["logits_p"].double()),
        Categorical(logits=inputs["logits_q"].double()),
    )
    assert_close(
        _call(impl, inputs["logits_p"], inputs["logits_q"], device),
        expected,
        what="categorical_kl vs torch.distributions.kl_divergence",
        scale=_scale(*inputs.values()),
    )


@given(inputs=logit_pairs())
def test_nonnegative_and_pinsker(impl, device, inputs):
    """KL >= 0.5 * ||p - q||_1^2 >= 0 (Pinsker): positive whenever the distributions differ."""
    result = as_cpu_tensor(_call(impl, inputs["logits_p"], inputs["logits_q"], device), "KL")
    p = torch.softmax(inputs["logits_p"].double(), dim=1)
    q = torch.softmax(inputs["logits_q"].double(), dim=1)
    bound = 0.5 * (p - q).abs().sum(dim=1) ** 2
    tolerance = FLOAT32_RTOL * max(_scale(*inputs.values()), 1.0)
    assert result.shape == bound.shape, (
        f"KL has shape {list(result.shape)}, expected {list(bound.shape)}"
    )
    worst = int((bound - result).argmax())
    assert result[worst] >= bound[worst] - tolerance, (
        f"row {worst}: KL {result[worst].item()!r} is below Pinsker's lower bound "
        f"0.5*||p-q||_1^2 = {bound[worst].item()!r} (tolerance {tolerance:.3g})"
    )


def _on_grid(x: torch.Tensor) -> torch.Tensor:
    """Logits on the 1/256 grid: adding an integer shift to them is exact in float32."""
    return torch.round(x * 256) / 256


@given(
    inputs=logit_pairs(),
    shifts=st.lists(st.integers(-100, 100), min_size=16, max_size=16),
)
def test_zero_for_equal_distributions(impl, device, inputs, shifts):
    """KL(p || p) = 0, also when one copy's logits are shifted by a per-row constant."""
    logits = _on_grid(inputs["logits_p"])
    batch = logits.shape[0]
    shift = torch.tensor(shifts[:batch], dtype=logits.dtype).unsqueeze(1)
    zero = torch.zeros(batch, dtype=torch.float64)
    scale = _scale(logits) + 100
    assert_close(_call(impl, logits, logits, device), zero, what="KL(p || p)", scale=scale)
    assert_close(
        _call(impl, logits, logits + shift, device),
        zero,
        what="KL(p || p) with the second logits shifted per row",
        scale=scale,
    )


@given(
    inputs=logit_pairs(),
    shifts=st.lists(st.integers(-100, 100), min_size=32, max_size=32),
)
def test_invariant_to_per_row_logit_shifts(impl, device, inputs, shifts):
    """Adding a constant to a row of logits_p or logits_q (softmax's redundancy) changes nothing."""
    logits_p, logits_q = _on_grid(inputs["logits_p"]), _on_grid(inputs["logits_q"])
    batch = logits_p.shape[0]
    shift_p = torch.tensor(shifts[:batch], dtype=logits_p.dtype).unsqueeze(1)
    shift_q = torch.tensor(shifts[16 : 16 + batch], dtype=logits_p.dtype).unsqueeze(1)
    before = as_cpu_tensor(_call(impl, logits_p, logits_q, device), "KL")
    assert_close(
        _call(impl, logits_p + shift_p, logits_q + shift_q, device),
        before,
        what="KL after shifting each row's logits by a constant",
        scale=_scale(logits_p, logits_q) + 100,
    )


@given(inputs=logit_pairs())
def test_rows_are_independent(impl, device, inputs):
    """Row b of the batched result equals the KL of row b alone (no normalisation across rows)."""
    batched = as_cpu_tensor(_call(impl, inputs["logits_p"], inputs["logits_q"], device), "KL")
    singles = torch.cat(
        [
            as_cpu_tensor(
                _call(impl, inputs["logits_p"][b : b + 1], inputs["logits_q"][b : b + 1], device),
                "KL of one row",
            )
            for b in range(inputs["logits_p"].shape[0])
        ]
    )
    assert_close(
        batched, singles, what="batched KL vs row-by-row KL", scale=_scale(*inputs.values())
    )


@st.composite
def flat_and_peaked(draw: st.DrawFn) -> dict:
    """p nearly uniform (logits within ±1/8), q peaked on one action (a logit 8 to 30 higher):
    KL(p||q) and KL(q||p) differ by at least 1."""
    batch = draw(rows)
    actions = draw(st.integers(3, 18))
    dtype = draw(float_dtypes)
    flat = draw(real_tensors((batch, actions), dtype, bound=0.125))
    peaked = draw(real_tensors((batch, actions), dtype, bound=0.125))
    peaks = draw(st.lists(st.integers(0, actions - 1), min_size=batch, max_size=batch))
    heights = draw(st.lists(st.floats(8.0, 30.0), min_size=batch, max_size=batch))
    for row, (index, height) in enumerate(zip(peaks, heights, strict=True)):
        peaked[row, index] += height
    return {"logits_p": flat, "logits_q": peaked}


@given(inputs=flat_and_peaked())
def test_asymmetric_order_of_arguments(impl, device, inputs):
    """KL(p||q) is not KL(q||p): each order matches its own definition (flat p, peaked q)."""
    forward, backward = oracle(**inputs), oracle(inputs["logits_q"], inputs["logits_p"])
    assert bool(((forward - backward).abs() >= 1.0).all())  # the inputs keep the orders apart
    scale = _scale(*inputs.values())
    assert_close(
        _call(impl, inputs["logits_p"], inputs["logits_q"], device),
        forward,
        what="KL(flat p || peaked q)",
        scale=scale,
    )
    assert_close(
        _call(impl, inputs["logits_q"], inputs["logits_p"], device),
        backward,
        what="KL(peaked q || flat p)",
        scale=scale,
    )


SAMPLES = 20_000
STANDARD_ERRORS = 5.0


@given(inputs=logit_pairs(bound=3.0, min_actions=2), generator=torch_generators)
def test_matches_monte_carlo_estimate(impl, device, inputs, generator):
    """Within 5 standard errors of the sample mean of log p(a) - log q(a) over a ~ p (n = 20000)."""
    log_p = torch.log_softmax(inputs["logits_p"].double(), dim=1)
    log_q = torch.log_softmax(inputs["logits_q"].double(), dim=1)
    actions = torch.multinomial(log_p.exp(), SAMPLES, replacement=True, generator=generator)
    log_ratios = log_p.gather(1, actions) - log_q.gather(1, actions)  # [B, n]
    estimate = log_ratios.mean(dim=1)
    standard_error = log_ratios.std(dim=1) / math.sqrt(SAMPLES)
    result = as_cpu_tensor(_call(impl, inputs["logits_p"], inputs["logits_q"], device), "KL")
    assert result.shape == estimate.shape, f"KL has shape {list(result.shape)}"
    allowed = STANDARD_ERRORS * standard_error + FLOAT32_RTOL * 3.0
    worst = int(((result - estimate).abs() - allowed).argmax())
    assert (result - estimate).abs()[worst] <= allowed[worst], (
        f"row {worst}: KL {result[worst].item()!r} but the Monte Carlo estimate of "
        f"E_p[log p - log q] is {estimate[worst].item()!r} ± {standard_error[worst].item():.3g} "
        f"(standard error; allowed {STANDARD_ERRORS:g} of them)"
    )
