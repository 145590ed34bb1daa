"""Properties of ``kl_penalty_objective``: ``mean(rho*A - beta*kl)``,
``rho = exp(log_prob_new - log_prob_old)``, to be maximised.

Spec: Policy losses and distributions. Seed: :five: PPO / PPO-Penalty. Paper: Schulman et al.
(2017), eq. 8.

Inputs (properties/policy_strategies.py): batches of 1 to 300 (1024 to 4096 in
``test_large_batch``), every row its own values; old log-probabilities from the moderate
(``[-10, 2]``), deep and floor regimes (``[-1000, -709]`` in float64, ``[-120, -88]`` in
float32: ``exp(log_prob)`` is subnormal or 0 there, so a ratio formed as
``exp(new) / exp(old)`` is wrong or ``0/0``); log-ratios in ``[-3, 3]``; advantages of both
signs, magnitudes log-uniform in ``[1e-6, 1e3]``, and exact zeros; per-sample KL values of both
signs (per-sample KL *estimates* such as ``log_prob_old - log_prob_new`` can be negative; the
contract uses ``kl`` as given) with magnitudes in ``[1e-8, 1e3]``; ``beta`` exactly 0,
log-uniform in ``[1e-30, 1e3]`` or any float in ``[0, 10]`` (hypothesis includes values
down to subnormals there).

Tolerances, derived as for ``ppo_clip_objective``: the ratio of float32-rounded log-probabilities
is off by a relative ``4u(|new| + |old|)`` (``u = 2**-24``; 1.2e-4 at ``|log_prob| = 1000``), so
the term ``rho_i A_i - beta kl_i`` is within ``|rho_i A_i| (FLOAT32_RTOL + 4u(|new_i| + |old_i|))
+ FLOAT32_RTOL beta |kl_i|``; the mean is within the mean of those plus ``FLOAT32_RTOL`` times
the largest ``|rho A| + beta |kl|`` (summation). Gradients are judged element by element:
``rho_i A_i / B`` within the same relative bound, ``-beta / B`` within ``FLOAT32_RTOL`` of
itself plus float32's smallest normal ``2**-126`` (``beta`` is any float64 up to 1e3, down to
subnormals; a float32 implementation cannot hold a ``beta`` below ``2**-126`` and may drop it,
an error of at most ``2**-126 |kl|`` per term, which the value tolerance adds too).
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from drlspec.properties.policy_strategies import (
    U32,
    large_batches,
    log_prob_pairs,
    policy_batches,
    signed_values,
)
from drlspec.properties.strategies import float_dtypes, log_uniform

CONTRACT = "kl_penalty_objective"

FLOAT32_TINY = 2.0**-126
"""float32's smallest normal number: a float32 product below it is 0 or subnormal."""

betas = st.one_of(st.just(0.0), log_uniform(1e-30, 1e3), st.floats(0.0, 10.0))


@st.composite
def penalty_inputs(draw: st.DrawFn, batches=policy_batches, regime: str | None = None) -> dict:
    batch = draw(batches)
    dtype = draw(float_dtypes)
    new, old = draw(log_prob_pairs(batch, dtype, regime=regime))
    return {
        "log_prob_new": new,
        "log_prob_old": old,
        "advantages": draw(signed_values(batch, dtype)),
        "kl": draw(signed_values(batch, dtype, low=1e-8, high=1e3)),
        "beta": draw(betas),
    }


def ratios(inputs: dict) -> torch.Tensor:
    return torch.exp(inputs["log_prob_new"].double() - inputs["log_prob_old"].double())


def oracle(inputs: dict, beta: float | None = None) -> torch.Tensor:
    """mean(rho A - beta kl), vectorised in float64."""
    beta = inputs["beta"] if beta is None else beta
    terms = ratios(inputs) * inputs["advantages"].double() - beta * inputs["kl"].double()
    return terms.mean()


def _conditioning(inputs: dict) -> torch.Tensor:
    """4u(|new| + |old|): relative error of a ratio formed from float32-rounded log-probs."""
    return 4 * U32 * (inputs["log_prob_new"].double().abs() + inputs["log_prob_old"].double().abs())


def value_tolerance(inputs: dict, beta: float | None = None) -> torch.Tensor:
    """Bound on a float32 implementation's error in the mean (module docstring)."""
    beta = inputs["beta"] if beta is None else beta
    surrogate = (ratios(inputs) * inputs["advantages"].double()).abs()
    penalty = beta * inputs["kl"].double().abs()
    # A float32 implementation flushes beta * kl to 0 (or a subnormal) below float32's
    # smallest normal number: absolute error up to FLOAT32_TINY * |kl| per term.
    per_term = (
        surrogate * (FLOAT32_RTOL + _conditioning(inputs))
        + FLOAT32_RTOL * penalty
        + FLOAT32_TINY * inputs["kl"].double().abs()
    )
    return FLOAT32_RTOL * (surrogate + penalty).max() + per_term.mean()


def _call(impl, inputs: dict, device: str, **overrides):
    args = dict(inputs, **overrides)
    return impl(
        args["log_prob_new"].to(device),
        args["log_prob_old"].to(device),
        args["advantages"].to(device),
        args["kl"].to(device),
        args["beta"],
    )


@given(inputs=penalty_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals mean(rho*A - beta*kl), also with log-probs near -1000 and beta tiny or 0."""
    assert_close(
        _call(impl, inputs, device),
        oracle(inputs),
        what="kl_penalty_objective",
        tolerance=value_tolerance(inputs),
    )


@given(inputs=penalty_inputs(regime="floor"))
def test_ratio_from_log_probabilities_near_the_floor(impl, device, inputs):
    """Log-probs where exp underflows (float64 < -709, float32 < -88): rho = exp(new - old)
    is still exact, so the objective is finite and exact; exp(new)/exp(old) is 0/0 there."""
    assert_close(
        _call(impl, inputs, device),
        oracle(inputs),
        what="kl_penalty_objective with log-probabilities near the float floor",
        tolerance=value_tolerance(inputs),
    )


@given(inputs=penalty_inputs())
def test_beta_zero_is_the_surrogate(impl, device, inputs):
    """With beta = 0 the objective is the plain surrogate mean(rho*A), whatever kl is."""
    assert_close(
        _call(impl, inputs, device, beta=0.0),
        oracle(inputs, beta=0.0),
        what="objective with beta = 0",
        tolerance=value_tolerance(inputs, beta=0.0),
    )


@given(inputs=penalty_inputs(), other_beta=betas)
def test_linear_in_beta_with_slope_minus_mean_kl(impl, device, inputs, other_beta):
    """f(beta2) - f(beta1) = -(beta2 - beta1) * mean(kl): the penalty grows linearly in beta."""
    first = as_cpu_tensor(_call(impl, inputs, device), "objective")
    second = as_cpu_tensor(_call(impl, inputs, device, beta=other_beta), "objective")
    mean_kl = inputs["kl"].double().mean()
    assert_close(
        second - first,
        -(other_beta - inputs["beta"]) * mean_kl,
        what=f"change of the objective from beta={inputs['beta']} to beta={other_beta}",
        tolerance=value_tolerance(inputs) + value_tolerance(inputs, beta=other_beta),
    )


def _assert_gradient_wrt_log_prob_new(impl, inputs: dict, device: str) -> None:
    """d/d log_prob_new = rho*A/B, element by element."""
    log_prob_new = inputs["log_prob_new"].detach().to(device).requires_grad_(True)
    _call(impl, inputs, device, log_prob_new=log_prob_new).backward()
    assert log_prob_new.grad is not None, "the objective carries no gradient to log_prob_new"
    expected = ratios(inputs) * inputs["advantages"].double() / log_prob_new.shape[0]
    assert_close(
        log_prob_new.grad,
        expected,
        what="gradient w.r.t. log_prob_new (rho*A/B, never clipped)",
        tolerance=expected.abs() * (FLOAT32_RTOL + _conditioning(inputs)),
    )


def _assert_gradient_wrt_kl(impl, inputs: dict, device: str) -> None:
    """d/d kl = -beta/B, element by element."""
    kl = inputs["kl"].detach().to(device).requires_grad_(True)
    objective = _call(impl, inputs, device, kl=kl)
    beta, batch = inputs["beta"], kl.shape[0]
    if beta == 0.0 and not objective.requires_grad:
        return  # beta = 0: an implementation may skip the penalty term altogether
    assert objective.requires_grad, "the objective carries no gradient to kl (kl was detached)"
    objective.backward()
    if beta == 0.0 and kl.grad is None:
        return
    assert kl.grad is not None, "the objective carries no gradient to kl (kl was detached)"
    assert_close(
        kl.grad,
        torch.full((batch,), -beta / batch, dtype=torch.float64),
        what="gradient w.r.t. kl (-beta/B)",
        tolerance=torch.full(
            (batch,), FLOAT32_RTOL * beta / batch + FLOAT32_TINY, dtype=torch.float64
        ),
    )


@given(inputs=penalty_inputs())
def test_gradient_wrt_log_prob_new_is_rho_a_over_b(impl, device, inputs):
    """d/d log_prob_new = rho*A/B per row: the ratio is exp(new - old), never clipped (also
    with log-probs near the float floor)."""
    _assert_gradient_wrt_log_prob_new(impl, inputs, device)


@given(inputs=penalty_inputs())
def test_gradient_wrt_kl_is_minus_beta_over_b(impl, device, inputs):
    """d/d kl = -beta/B per row, also for tiny beta: the penalty reaches the policy through kl
    (kl must not be detached, nor the penalty dropped for a small beta)."""
    _assert_gradient_wrt_kl(impl, inputs, device)


@given(inputs=penalty_inputs(batches=large_batches))
@settings(max_examples=4)
def test_large_batch(impl, device, inputs):
    """B from 1024 to 4096: value and per-row gradients still exact (blocked means with a short
    last block, a bug past row 32 or in the last row are caught)."""
    assert_close(
        _call(impl, inputs, device),
        oracle(inputs),
        what="kl_penalty_objective, large batch",
        tolerance=value_tolerance(inputs),
    )
    _assert_gradient_wrt_log_prob_new(impl, inputs, device)
    _assert_gradient_wrt_kl(impl, inputs, device)
