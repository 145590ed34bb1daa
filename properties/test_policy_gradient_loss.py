"""Properties of ``policy_gradient_loss``: ``-mean(log_probs * weights)``, ``weights`` constant.

Spec: Policy losses and distributions. Seed: 2、策略梯度 / :two: REINFORCE (``loss =
-dist_log_prob * G``) and :three: Actor-Critic (``torch.mean(-log_probs * td_delta.detach())``).

The contract is torch-only: its meaning includes the gradient, which is what an optimiser
sees. Inputs (properties/policy_strategies.py): batches of 1 to 300 (1024 to 4096 in
``test_large_batch``), every row its own values; log-probabilities from ``[-10, 2]``
(log-densities of continuous actions can be positive), ``-10^U`` down to the float floor, and
the floor itself (``[-1000, -709]`` in float64, ``[-120, -88]`` in float32, where ``exp`` of
the log-probability is subnormal or 0: an implementation that goes through probabilities,
``log(exp(lp))``, is ``-inf`` or inexact there); weights (returns, advantages) of both signs with
magnitudes log-uniform in ``[1e-6, 1e3]`` and exact zeros.

Tolerances: each product ``lp_i w_i`` of float32-rounded factors is within a few ``u = 2**-24``
of itself, and a float32 summation errs by ``FLOAT32_RTOL`` of the largest product at most for
the batches drawn (the random-walk error of ``B <= 4096`` roundings is ``sqrt(B) u < 4e-6``
relative); so the loss is judged within ``FLOAT32_RTOL (max_i |t_i| + mean_i |t_i|)``,
``t_i = lp_i w_i``. The gradient ``-w_i / B`` is judged element by element within
``FLOAT32_RTOL |w_i| / B``: a bug confined to one row shows however large the batch.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from drlspec.properties.policy_strategies import (
    large_batches,
    log_prob_pairs,
    policy_batches,
    signed_values,
)
from drlspec.properties.strategies import float_dtypes

CONTRACT = "policy_gradient_loss"


@st.composite
def pg_inputs(draw: st.DrawFn, batches=policy_batches) -> dict:
    batch = draw(batches)
    dtype = draw(float_dtypes)
    _, log_probs = draw(log_prob_pairs(batch, dtype))
    return {"log_probs": log_probs, "weights": draw(signed_values(batch, dtype))}


def oracle(log_probs, weights) -> torch.Tensor:
    """-(1/B) sum_i log_probs_i weights_i, vectorised in float64."""
    return -(log_probs.double() * weights.double()).mean()


def _tolerance(inputs: dict) -> torch.Tensor:
    """FLOAT32_RTOL (max |t| + mean |t|), t_i = lp_i w_i (module docstring)."""
    products = (inputs["log_probs"].double() * inputs["weights"].double()).abs()
    return FLOAT32_RTOL * (products.max() + products.mean())


def _scale(inputs: dict) -> float:
    """The largest product the mean is formed from: float32 rounding is relative to it."""
    return float((inputs["log_probs"].double() * inputs["weights"].double()).abs().max())


def _leaf(x: torch.Tensor, device: str) -> torch.Tensor:
    return x.detach().to(device).requires_grad_(True)


def _assert_value_and_gradient(impl, inputs: dict, device: str) -> None:
    log_probs = _leaf(inputs["log_probs"], device)
    loss = impl(log_probs, inputs["weights"].to(device))
    assert_close(loss, oracle(**inputs), what="policy_gradient_loss", tolerance=_tolerance(inputs))
    loss.backward()
    assert log_probs.grad is not None, "the loss carries no gradient to log_probs"
    expected = -inputs["weights"].double() / inputs["weights"].shape[0]
    assert_close(
        log_probs.grad,
        expected,
        what="gradient of the loss w.r.t. log_probs (-weights / B)",
        tolerance=FLOAT32_RTOL * expected.abs(),
    )


@given(inputs=pg_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals -(1/B) sum_i log_probs_i * weights_i, also with log-probs near -1000."""
    result = impl(inputs["log_probs"].to(device), inputs["weights"].to(device))
    assert_close(
        result, oracle(**inputs), what="policy_gradient_loss", tolerance=_tolerance(inputs)
    )


@given(inputs=pg_inputs())
def test_gradient_is_minus_weights_over_batch(impl, device, inputs):
    """The gradient w.r.t. log_probs is -weights / B, row by row (sign and scale of the policy
    gradient), at every magnitude of the log-probabilities."""
    _assert_value_and_gradient(impl, inputs, device)


@given(inputs=pg_inputs(batches=large_batches))
@settings(max_examples=4)
def test_large_batch(impl, device, inputs):
    """B from 1024 to 4096: value and per-row gradient still exact (blocked means with a short
    last block, a bug past row 32 or in the last row are caught)."""
    _assert_value_and_gradient(impl, inputs, device)


@given(inputs=pg_inputs(), rise=st.floats(0.5, 5.0))
def test_loss_falls_when_good_actions_become_likelier(impl, device, inputs, rise):
    """Raising positive-weight actions' log-probabilities by c lowers the loss by c*sum(w+)/B."""
    positive = inputs["weights"] > 0
    raised = inputs["log_probs"] + rise * positive.to(inputs["log_probs"].dtype)
    before = as_cpu_tensor(
        impl(inputs["log_probs"].to(device), inputs["weights"].to(device)), "loss"
    )
    after = as_cpu_tensor(impl(raised.to(device), inputs["weights"].to(device)), "loss")
    batch = inputs["weights"].shape[0]
    drop = rise * float(inputs["weights"].double()[positive].sum()) / batch
    scale = _scale(inputs) + rise * float(inputs["weights"].abs().max())
    assert_close(
        before - after,
        torch.tensor(drop, dtype=torch.float64),
        what="decrease of the loss when good actions' log-probabilities rise",
        scale=scale,
    )


@given(inputs=pg_inputs(), copies=st.integers(2, 4))
def test_mean_not_sum(impl, device, inputs, copies):
    """Repeating the whole batch leaves the loss unchanged (a mean over samples, not a sum)."""
    once = impl(inputs["log_probs"].to(device), inputs["weights"].to(device))
    repeated = impl(
        inputs["log_probs"].repeat(copies).to(device), inputs["weights"].repeat(copies).to(device)
    )
    assert_close(
        repeated,
        as_cpu_tensor(once, "loss"),
        what="loss of the repeated batch",
        scale=_scale(inputs),
    )


@given(inputs=pg_inputs())
def test_no_gradient_into_weights(impl, device, inputs):
    """weights is a constant of the update: backward leaves weights.grad None or zero."""
    log_probs = _leaf(inputs["log_probs"], device)
    weights = _leaf(inputs["weights"], device)
    impl(log_probs, weights).backward()
    # None (the implementation detached weights) and an all-zero gradient (it blocked the
    # gradient some other way) both honour the contract.
    if weights.grad is not None:
        leaked = weights.grad.detach().double().abs().max().item()
        assert leaked == 0.0, (
            f"weights received a gradient (largest |d loss/d weights| = {leaked:.3g}): "
            "the returns/advantages were not detached, so a critic producing them would be "
            "trained by the actor's loss"
        )
