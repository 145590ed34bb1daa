"""Properties of ``actor_critic_losses``: one-step advantage actor-critic's two losses.

``y = r + gamma (1 - terminated) V(s')`` without gradient, ``delta = y - V(s)`` detached;
``policy_loss = -(1/B) sum_i log pi(a_i|s_i) delta_i`` reaches only the policy,
``value_loss = (1/B) sum_i (V(s_i) - y_i)**2`` (or half of it, the same factor on value and
gradient) only the value network, by semi-gradient TD.

Spec: Update contracts. Seed: 2、策略梯度 / :three: Actor-Critic (损失函数 with the factor
1/2, 主要代码 ``td_delta.detach()`` and ``F.mse_loss(critic(states), td_target.detach())``).

Inputs (properties/pg_update_checks.py): float64 tanh MLP policies (discrete Categorical,
int64/int32 actions [B]; continuous Independent Normal, actions [B, K]) and value networks
of random widths; B from 1 to 32 (B == 1 and B == A drawn often); rewards in [-1, 1];
terminated none, some or all, bool or 0/1 float; gamma 0, 0.99, 1 and uniform. Tolerances:
first-order float32 error bounds from the magnitudes each term combines, and for each
gradient element ``FLOAT32_RTOL (1/B) sum_i w_i |dX_i/dtheta|`` (pg_update_checks.py).
"""

from __future__ import annotations

import torch
from hypothesis import given

from drlspec.properties.pg_update_checks import (
    actor_critic_batches,
    assert_actor_critic_values,
    assert_networks_untouched,
    assert_policy_loss_gradient,
    assert_value_loss_gradient,
    call_actor_critic,
    on_device,
)

CONTRACT = "actor_critic_losses"


@given(inputs=actor_critic_batches())
def test_losses_match_definition(impl, device, inputs):
    """Both losses match their definitions: policy -(1/B) sum log pi delta, value mean delta**2.

    The value loss may be half the mean of squares; each loss is a 0-d tensor."""
    result = call_actor_critic(impl, on_device(inputs, device))
    assert_actor_critic_values(result, inputs, CONTRACT)


@given(inputs=actor_critic_batches())
def test_policy_loss_trains_only_the_policy(impl, device, inputs):
    """The policy loss's gradient is -(1/B) sum_i delta_i grad log pi(a_i|s_i); V gets none.

    The advantage delta is a constant weight: backward through the policy loss leaves the
    value network's gradients None or zero."""
    assert_policy_loss_gradient(impl, inputs, device)


@given(inputs=actor_critic_batches())
def test_value_loss_is_semi_gradient_td(impl, device, inputs):
    """The value loss's gradient is semi-gradient TD's, and the policy gets none.

    (2c/B) sum_i (V(s_i) - y_i) grad V(s_i), c the factor (1 or 1/2) the value shows: no
    gradient flows through V(s') in the target."""
    assert_value_loss_gradient(impl, inputs, device)


@given(inputs=actor_critic_batches())
def test_terminated_transitions_do_not_bootstrap(impl, device, inputs):
    """Terminated transitions do not bootstrap: y = r, even at gamma = 1."""
    batch = inputs["rewards"].shape[0]
    flags = torch.ones(batch, dtype=inputs["terminated"].dtype)
    inputs = dict(inputs, terminated=flags, gamma=1.0)
    result = call_actor_critic(impl, on_device(inputs, device))
    assert_actor_critic_values(result, inputs, "losses of terminated transitions")


@given(inputs=actor_critic_batches())
def test_networks_not_modified(impl, device, inputs):
    """The call modifies neither network's parameters nor writes their gradients.

    Backward is the caller's: the call itself writes no .grad."""
    assert_networks_untouched(
        lambda x: call_actor_critic(impl, x), inputs, device, ["policy", "value_network"]
    )
