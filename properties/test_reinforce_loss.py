"""Properties of ``reinforce_loss``: ``-(1/B) sum_i log pi(a_i|s_i) G_i``, ``G`` a constant.

Its gradient w.r.t. the policy is ``-(1/B) sum_i G_i grad log pi(a_i|s_i)``, minus the
policy-gradient estimate; no gradient reaches whatever computed the returns.

Spec: Update contracts. Seed: 2、策略梯度 / :two: REINFORCE (``loss = -dist_log_prob * G``,
one backward per step: a sum over the episode where the contract takes the mean).

Inputs (properties/pg_update_checks.py): float64 tanh MLP policies of random widths,
discrete (Categorical over A in 1..6, int64 or int32 actions [B]) and continuous
(Independent Normal over K in 1..3, float actions [B, K]); B from 1 to 32 (B == 1 and
B == A drawn often); returns of both signs at scales 0.1, 1 and 10. Tolerances: the loss
within ``FLOAT32_RTOL (1/B) sum_i |G_i| (|log pi_i| + n)`` (n = 1 or K), each gradient
element within ``FLOAT32_RTOL (1/B) sum_i |G_i| |d log pi_i / d theta|``.
"""

from __future__ import annotations

from hypothesis import given

from drlspec.properties.pg_update_checks import (
    assert_networks_untouched,
    assert_no_gradient,
    assert_reinforce_gradient,
    assert_reinforce_value,
    backward,
    call_reinforce,
    on_device,
    reinforce_batches,
    returns_with_graph,
)

CONTRACT = "reinforce_loss"


@given(inputs=reinforce_batches())
def test_matches_definition(impl, device, inputs):
    """The loss is -(1/B) sum_i log pi(a_i|s_i) G_i: a mean over the batch, not a sum.

    A 0-d tensor; integer actions are indices (a [B, 1] column would broadcast to [B, B])."""
    result = call_reinforce(impl, on_device(inputs, device))
    assert_reinforce_value(result, inputs, CONTRACT)


@given(inputs=reinforce_batches())
def test_gradient_matches_policy_gradient(impl, device, inputs):
    """The gradient w.r.t. the policy is -(1/B) sum_i G_i grad log pi(a_i|s_i).

    Minus the REINFORCE estimate of the policy gradient, every parameter (log std too)."""
    assert_reinforce_gradient(impl, inputs, device)


@given(inputs=reinforce_batches())
def test_returns_are_constants(impl, device, inputs):
    """No gradient reaches what computed the returns: they are constants of the update.

    Returns G - b(s) + b(s).detach() with G a leaf and b a network: backward leaves G.grad
    and b's gradients None or zero (a baseline critic is not trained by the actor's loss)."""
    given_inputs, leaf, baseline = returns_with_graph(inputs, device)
    loss = call_reinforce(impl, given_inputs)
    backward(loss, CONTRACT, "the loss cannot train the policy")
    if leaf.grad is not None:
        leaked = leaf.grad.abs().max().item()
        assert leaked == 0.0, (
            f"the returns' leaf received a gradient (largest {leaked:.3g}): the returns were "
            "not detached, so whatever computed them would be trained by the policy loss"
        )
    assert_no_gradient(
        baseline, "baseline", "the returns were not detached (a baseline G - V(s) with V's graph)"
    )
    assert_reinforce_value(loss, dict(inputs, returns=given_inputs["returns"]), CONTRACT)


@given(inputs=reinforce_batches())
def test_policy_not_modified(impl, device, inputs):
    """The call modifies neither the policy's parameters nor its gradients.

    Backward is the caller's: the call itself writes no .grad."""
    assert_networks_untouched(lambda x: call_reinforce(impl, x), inputs, device, ["policy"])
