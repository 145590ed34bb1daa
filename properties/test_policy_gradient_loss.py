"""Properties of ``policy_gradient_loss``: ``-mean(log_probs * weights)``, ``weights`` constant.

Spec: Policy losses and distributions. Seed: 2、策略梯度 / :two: REINFORCE (``loss =
-dist_log_prob * G``) and :three: Actor-Critic (``torch.mean(-log_probs * td_delta.detach())``).

The contract is torch-only: its meaning includes the gradient, which is what an optimiser
sees. Log-probabilities are drawn from ``[-30, 5]`` (log-densities of continuous actions can
be positive) and weights from ``[-100, 100]`` (returns are unnormalised).
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from properties.strategies import batch_sizes, float_dtypes, real_tensors

CONTRACT = "policy_gradient_loss"


@st.composite
def pg_inputs(draw: st.DrawFn) -> dict:
    batch = draw(batch_sizes)
    dtype = draw(float_dtypes)
    log_probs = draw(real_tensors((batch,), dtype, bound=30.0)).clamp(max=5.0)
    return {"log_probs": log_probs, "weights": draw(real_tensors((batch,), dtype))}


def oracle(log_probs, weights) -> torch.Tensor:
    """The definition, one sample at a time, in float64."""
    pairs = list(zip(log_probs.tolist(), weights.tolist(), strict=True))
    return torch.tensor(-sum(lp * w for lp, w in pairs) / len(pairs), dtype=torch.float64)


def _scale(inputs: dict) -> float:
    """The largest product the mean is formed from: float32 rounding is relative to it."""
    return float((inputs["log_probs"].double() * inputs["weights"].double()).abs().max())


def _leaf(x: torch.Tensor, device: str) -> torch.Tensor:
    return x.detach().to(device).requires_grad_(True)


@given(inputs=pg_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals -(1/B) sum_i log_probs_i * weights_i, computed sample by sample."""
    result = impl(inputs["log_probs"].to(device), inputs["weights"].to(device))
    assert_close(result, oracle(**inputs), what="policy_gradient_loss", scale=_scale(inputs))


@given(inputs=pg_inputs())
def test_gradient_is_minus_weights_over_batch(impl, device, inputs):
    """The gradient w.r.t. log_probs is -weights / B (sign and scale of the policy gradient)."""
    log_probs = _leaf(inputs["log_probs"], device)
    impl(log_probs, inputs["weights"].to(device)).backward()
    assert log_probs.grad is not None, "the loss carries no gradient to log_probs"
    batch = inputs["weights"].shape[0]
    assert_close(
        log_probs.grad,
        -inputs["weights"].double() / batch,
        what="gradient of the loss w.r.t. log_probs",
        scale=float(inputs["weights"].abs().max()) / batch,
    )


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
        assert leaked <= FLOAT32_RTOL, (
            f"weights received a gradient (largest |d loss/d weights| = {leaked:.3g}): "
            "the returns/advantages were not detached, so a critic producing them would be "
            "trained by the actor's loss"
        )
