"""Properties of ``categorical_kl``: ``KL(p || q) = sum_a p(a) (log p(a) - log q(a))`` per row,
``p = softmax(logits_p)``, ``q = softmax(logits_q)``.

Spec: Policy losses and distributions. Seed: :four: TRPO / KL 散度 (离散分布).

Input space. Any finite logits are within the contract, and the KL is promised finite and
correct for all of them. The general strategy draws logits in ``[-50, 50]`` (what a trained
policy produces; gaps up to 100) for 1 to 8 rows; ``wide_logit_pairs`` fills 1 to 64 rows
(1024 to 4096 in ``test_large_batch``) from a seeded generator, each row with its own scale
(log-uniform in ``[1e-2, 50]``) and its own shift (up to ±1000, so rows sit far apart and a
softmax stabilised by the *batch's* maximum underflows). ``test_extreme_logit_gaps`` adds
per-row gaps log-uniform in ``[10, 1000]`` plus per-row shifts up to ±1000, where a
probability underflows to 0 (float32 below ``e^-103``, float64 below ``e^-745``): the KL there is
finite and exactly representable, so an implementation taking ``log(softmax(x))`` or
``log(p/q)`` (``-inf``, then ``inf`` or ``nan``), clamping probabilities at an epsilon before the
log, or ``torch.distributions.kl_divergence`` (which returns ``inf`` wherever ``q``'s probability
is 0 in floating point) is wrong there. A policy whose logits drift apart by that much is a
converged policy, exactly the one whose KL a trust region must still measure.

Masked actions. A logit of ``-inf`` masks an action (probability exactly 0), as invalid actions
are masked in practice. With ``0 log 0 = 0``: an action masked in p adds 0, also where q masks
it too; an action masked in q but kept by p makes the KL exactly ``+inf`` (its true value, and
``torch.distributions``' convention). ``test_masked_actions`` draws finite logits in ``[-20,
20]`` (optionally shifted by up to ±1000 per row), masks at rates 0.1, 0.3 or 0.6 and, per row,
one mask shared by p and q, a mask in p only, in q only, or two independent ones, each row
keeping an action. The naive ``p * (log p - log q)`` is NaN at a mask of p (``0 * -inf``);
``masked_fill(-1e9)`` instead of ``-inf`` gives a large finite number where ``+inf`` is due.
Unmasked logits stay within ±20 so that no unmasked probability is near float32's underflow:
there an implementation may read the support from ``p > 0`` or from the masks alike. (An
unmasked action whose p underflows while q masks it still makes the exact KL ``+inf``; the
reference says so, the properties do not judge it.) A row with every logit ``-inf`` is no
distribution; NaN and ``+inf`` logits are outside the contract.

Tolerances. A float32 ``log_softmax`` errs by up to about ``(A + 4) u L`` per
log-probability for ``A`` logits of magnitude ``L`` (``u = 2**-24``: one rounding of size ``L``
per step of the log-sum-exp, and the rounding of the inputs). The KL
``sum_a p_a (log p_a - log q_a)`` takes those errors twice: weighted by ``p`` (which sums to 1),
and through ``p = exp(log p)`` itself, multiplied by the log-ratio ``d_a``; so row ``b`` is
judged within ``FLOAT32_RTOL max(1, L_b) + (A + 4) u L_b E_p|d|``, ``L_b`` the largest
``|logit|`` of the row. The second term matters only where both ``L`` and the KL are large
(a gap of 600 after a shift of 700: a float32 ``np.logaddexp.reduce`` is off by 0.16 there,
measured). Per-row tolerances, so a row with small logits is not judged at the scale of a row
shifted by 1000. Measured: float32 evaluations of 12000 random rows with ``L`` up to 100 and KL
up to ~100 stay below 13% of the first term.

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

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Categorical, kl_divergence

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from drlspec.properties.policy_strategies import U32, large_batches
from drlspec.properties.strategies import float_dtypes, real_tensors, torch_generators

CONTRACT = "categorical_kl"

rows = st.integers(min_value=1, max_value=8)
wide_rows = st.integers(min_value=1, max_value=64)


@st.composite
def logit_pairs(draw: st.DrawFn, bound: float = 50.0, min_actions: int = 1) -> dict:
    batch = draw(rows)
    actions = draw(st.integers(min_actions, 18))
    dtype = draw(float_dtypes)
    return {
        "logits_p": draw(real_tensors((batch, actions), dtype, bound=bound)),
        "logits_q": draw(real_tensors((batch, actions), dtype, bound=bound)),
    }


def _row_logits(
    generator: torch.Generator, batch: int, actions: int, shift_bound: float
) -> torch.Tensor:
    """[B, A] float64 logits: row b is s_b * U(-1, 1) + c_b, s_b log-uniform in [1e-2, 50],
    c_b an integer in [-shift_bound, shift_bound]; on the 1/256 grid (shifts stay exact)."""
    scales = 10.0 ** (-2.0 + math.log10(5000.0) * torch.rand(batch, 1, generator=generator))
    values = scales * (2.0 * torch.rand(batch, actions, generator=generator) - 1.0)
    shifts = torch.randint(-int(shift_bound), int(shift_bound) + 1, (batch, 1), generator=generator)
    return torch.round(values.double() * 256) / 256 + shifts.double()


@st.composite
def wide_logit_pairs(draw: st.DrawFn, batches=wide_rows, shift_bound: float = 1000.0) -> dict:
    """1 to 64 rows (or ``batches``) filled from a seeded generator, rows far apart (above)."""
    batch, actions = draw(batches), draw(st.integers(1, 18))
    dtype = draw(float_dtypes)
    generator = draw(torch_generators)
    shift = draw(st.sampled_from([0.0, shift_bound]))
    return {
        "logits_p": _row_logits(generator, batch, actions, shift).to(dtype),
        "logits_q": _row_logits(generator, batch, actions, shift).to(dtype),
    }


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def oracle(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """The definition in float64 numpy: log-sum-exp with each row's maximum taken out, terms
    weighted by p (an action whose p underflows adds exactly 0). Masked actions (``-inf``
    logits): ``0 log 0 = 0`` where p masks, ``+inf`` for the row where q masks an action p
    keeps (p > 0 there exactly, however far it underflows)."""
    x, y = logits_p.double().numpy(), logits_q.double().numpy()
    log_p, log_q = _log_softmax(x), _log_softmax(y)
    masked_p, masked_q = np.isneginf(x), np.isneginf(y)
    with np.errstate(invalid="ignore"):  # -inf - -inf and 0 * inf, both replaced
        terms = np.where(masked_p, 0.0, np.exp(log_p) * (log_p - log_q))
    divergence = terms.sum(axis=1)
    divergence[(masked_q & ~masked_p).any(axis=1)] = np.inf
    return torch.from_numpy(divergence)


def _scale(*logits: torch.Tensor) -> float:
    return max(float(x.abs().max()) for x in logits)


def row_tolerance(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """Per row: FLOAT32_RTOL max(1, L) + (A + 4) u L E_p|log p - log q| (module docstring);
    masked actions (``-inf``) count in neither ``L`` nor the expectation (they add exactly 0)."""
    x, y = logits_p.double(), logits_q.double()
    magnitude = torch.maximum(_finite_magnitude(x), _finite_magnitude(y))
    log_p = _log_softmax(x.numpy())
    log_q = _log_softmax(y.numpy())
    with np.errstate(invalid="ignore"):
        terms = np.where(np.isneginf(x.numpy()), 0.0, np.exp(log_p) * np.abs(log_p - log_q))
    spread = torch.from_numpy(terms.sum(axis=1))
    actions = logits_p.shape[1]
    return FLOAT32_RTOL * magnitude.clamp(min=1.0) + (actions + 4) * U32 * magnitude * spread


def _finite_magnitude(logits: torch.Tensor) -> torch.Tensor:
    """Each row's largest |logit| over its unmasked (finite) actions."""
    return torch.where(torch.isfinite(logits), logits.abs(), 0.0).amax(1)


def _call(impl, logits_p: torch.Tensor, logits_q: torch.Tensor, device: str):
    return impl(logits_p.to(device), logits_q.to(device))


def _assert_matches_oracle(impl, inputs: dict, device: str, what: str) -> None:
    assert_close(
        _call(impl, inputs["logits_p"], inputs["logits_q"], device),
        oracle(**inputs),
        what=what,
        tolerance=row_tolerance(**inputs),
    )


@given(inputs=logit_pairs())
def test_matches_definition(impl, device, inputs):
    """Equals sum_a p(a) (log p(a) - log q(a)) per row, with p, q the softmax of the logits."""
    _assert_matches_oracle(impl, inputs, device, "categorical_kl")


@given(inputs=wide_logit_pairs())
def test_matches_definition_rows_far_apart(impl, device, inputs):
    """1 to 64 rows, each with its own scale and a shift up to ±1000: every row exact at its
    own scale (no batch-wide maximum, no normalisation across rows)."""
    _assert_matches_oracle(impl, inputs, device, "categorical_kl, rows shifted by up to 1000")


@given(inputs=wide_logit_pairs(batches=large_batches))
@settings(max_examples=4)
def test_large_batch(impl, device, inputs):
    """B from 1024 to 4096 rows: every row exact at its own scale."""
    _assert_matches_oracle(impl, inputs, device, "categorical_kl, large batch")


@st.composite
def extreme_gaps(draw: st.DrawFn) -> dict:
    """Per row: q's logit for a likely action of p trails by a gap of 10 to 1000, p's logit for
    another action trails by another such gap (p underflows there), and the row is shifted by
    up to ±1000 (each of p and q by its own integer)."""
    inputs = draw(wide_logit_pairs(batches=st.integers(1, 16), shift_bound=0.0))
    logits_p, logits_q = inputs["logits_p"].double(), inputs["logits_q"].double()
    batch, actions = logits_p.shape
    if actions == 1:
        return inputs
    generator = draw(torch_generators)
    gaps = lambda: 10.0 ** (1.0 + 2.0 * torch.rand(batch, generator=generator))  # noqa: E731
    likely = torch.randint(0, actions, (batch,), generator=generator)
    unlikely = (likely + torch.randint(1, actions, (batch,), generator=generator)) % actions
    index = torch.arange(batch)
    logits_p[index, likely] += 10.0
    logits_q[index, likely] -= torch.round(gaps().double() * 256) / 256
    logits_p[index, unlikely] -= torch.round(gaps().double() * 256) / 256
    shift = lambda: torch.randint(-1000, 1001, (batch, 1), generator=generator)  # noqa: E731
    dtype = inputs["logits_p"].dtype
    return {"logits_p": (logits_p + shift()).to(dtype), "logits_q": (logits_q + shift()).to(dtype)}


@given(inputs=extreme_gaps())
def test_extreme_logit_gaps(impl, device, inputs):
    """Finite and exact where probabilities underflow to 0 (logit gaps of 10 to 1000, rows
    shifted by up to ±1000)."""
    _assert_matches_oracle(impl, inputs, device, "categorical_kl with logit gaps up to 1000")


MASK_RATES = (0.1, 0.3, 0.6)
MASKED_BOUND = 20.0


@st.composite
def masked_logit_pairs(draw: st.DrawFn) -> dict:
    """Finite logits in ``[-20, 20]`` (rows shifted by up to ±1000 or not) with actions masked
    by ``-inf`` at a rate of 0.1, 0.3 or 0.6. Each row, by a seeded generator, takes one of four
    patterns: one mask shared by p and q (legal actions of one state, the common case: KL
    finite), a mask in p only (finite), in q only (``+inf``, unless q masks nothing), or two
    independent masks (``+inf`` where q masks an action p keeps). Each row of each argument
    keeps at least one action. Unmasked logits within ±20 keep every unmasked probability
    above ``e^-43``, far from float32's underflow, so the support is clear in any dtype."""
    inputs = draw(logit_pairs(bound=MASKED_BOUND))
    logits_p, logits_q = inputs["logits_p"].clone(), inputs["logits_q"].clone()
    batch, actions = logits_p.shape
    generator = draw(torch_generators)
    rate = draw(st.sampled_from(MASK_RATES))
    index = torch.arange(batch)

    def mask() -> torch.Tensor:
        masked = torch.rand(batch, actions, generator=generator) < rate
        masked[index, torch.randint(0, actions, (batch,), generator=generator)] = False
        return masked

    first, second, none = mask(), mask(), torch.zeros(batch, actions, dtype=torch.bool)
    pattern = torch.randint(0, 4, (batch, 1), generator=generator)
    mask_p = torch.where(pattern == 2, none, first)
    mask_q = torch.where(pattern == 0, first, torch.where(pattern == 1, none, second))
    if draw(st.booleans()):
        shift = torch.randint(-1000, 1001, (batch, 1), generator=generator)
        logits_p, logits_q = (
            logits_p + shift.to(logits_p.dtype),
            logits_q + shift.to(logits_q.dtype),
        )
    return {
        "logits_p": logits_p.masked_fill(mask_p, -math.inf),
        "logits_q": logits_q.masked_fill(mask_q, -math.inf),
    }


@given(inputs=masked_logit_pairs())
def test_masked_actions(impl, device, inputs):
    """``-inf`` logits are masked actions: ``0 log 0 = 0`` where p masks one (also where q does
    too), exactly ``+inf`` where q masks an action p keeps, the definition elsewhere."""
    result = as_cpu_tensor(_call(impl, inputs["logits_p"], inputs["logits_q"], device), "KL")
    expected = oracle(**inputs)
    assert result.shape == expected.shape, (
        f"KL has shape {list(result.shape)}, expected {list(expected.shape)}"
    )
    infinite = torch.isinf(expected)
    wrong = infinite & ~(result == math.inf)
    if bool(wrong.any()):
        row = int(wrong.nonzero()[0, 0])
        action = int(
            (
                torch.isneginf(inputs["logits_q"][row]) & ~torch.isneginf(inputs["logits_p"][row])
            ).nonzero()[0, 0]
        )
        raise AssertionError(
            f"row {row}: KL is {result[row].item()!r}, expected +inf: q masks action {action} "
            f"(logit -inf) where p has logit {inputs['logits_p'][row, action].item()!r}, so p "
            f"puts mass where q has none"
        )
    # The +inf rows are judged above; zeroing them on both sides keeps row numbers in messages.
    assert_close(
        result.masked_fill(infinite, 0.0),
        expected.masked_fill(infinite, 0.0),
        what="categorical_kl with masked (-inf) actions",
        tolerance=row_tolerance(**inputs).masked_fill(infinite, 1.0),
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
    shifts=st.lists(st.integers(-1000, 1000), min_size=16, max_size=16),
)
def test_zero_for_equal_distributions(impl, device, inputs, shifts):
    """KL(p || p) = 0, also when one copy's logits are shifted by a per-row constant."""
    logits = _on_grid(inputs["logits_p"])
    batch = logits.shape[0]
    shift = torch.tensor(shifts[:batch], dtype=logits.dtype).unsqueeze(1)
    zero = torch.zeros(batch, dtype=torch.float64)
    scale = _scale(logits) + 1000
    assert_close(_call(impl, logits, logits, device), zero, what="KL(p || p)", scale=scale)
    assert_close(
        _call(impl, logits, logits + shift, device),
        zero,
        what="KL(p || p) with the second logits shifted per row",
        scale=scale,
    )


@given(
    inputs=logit_pairs(),
    shifts=st.lists(st.integers(-1000, 1000), min_size=32, max_size=32),
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
        scale=_scale(logits_p, logits_q) + 1000,
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
