"""Tests of the reference's own promises in reference/policy_losses.py: entry checks that
name the argument, output types, what is detached. The contracts' meanings are pinned by
properties/test_{policy_gradient_loss,ppo_clip_objective,kl_penalty_objective,adapt_kl_beta}.py.
"""

from __future__ import annotations

import math

import pytest
import torch

from drlspec.policy_losses import (
    adapt_kl_beta,
    kl_penalty_objective,
    policy_gradient_loss,
    ppo_clip_objective,
)


def _batch(*values: float, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def test_losses_return_scalars_in_the_dtype_of_the_log_probs():
    lp32 = _batch(-1.0, -2.0, dtype=torch.float32)
    other = _batch(0.5, -0.5)
    assert policy_gradient_loss(lp32, other).shape == ()
    assert policy_gradient_loss(lp32, other).dtype == torch.float32
    assert ppo_clip_objective(lp32, other, other, 0.2).dtype == torch.float32
    assert kl_penalty_objective(lp32, other, other, other, 0.5).dtype == torch.float32


def test_policy_gradient_loss_single_sample_by_hand():
    # -(log 0.5 * 2) = 2 log 2
    loss = policy_gradient_loss(_batch(math.log(0.5)), _batch(2.0))
    assert loss.item() == pytest.approx(2 * math.log(2), rel=1e-15)


def test_ppo_clip_objective_by_hand():
    # rho = 2, A = 1, eps = 0.2: min(2, 1.2) = 1.2;  rho = 0.5, A = -1: min(-0.5, -0.8) = -0.8
    new = _batch(math.log(2.0), math.log(0.5))
    objective = ppo_clip_objective(new, _batch(0.0, 0.0), _batch(1.0, -1.0), 0.2)
    assert objective.item() == pytest.approx((1.2 - 0.8) / 2, rel=1e-12)


def test_old_log_probs_and_advantages_are_data():
    """Only log_prob_new (and kl) carry gradients: old log-probs and advantages are detached."""
    new = _batch(-1.0, -0.5).requires_grad_(True)
    old = _batch(-1.1, -0.4).requires_grad_(True)
    advantages = _batch(1.0, -2.0).requires_grad_(True)
    kl = _batch(0.1, 0.2).requires_grad_(True)
    ppo_clip_objective(new, old, advantages, 0.2).backward()
    kl_penalty_objective(new, old, advantages, kl, 0.3).backward()
    assert old.grad is None and advantages.grad is None
    assert new.grad is not None and kl.grad is not None


@pytest.mark.parametrize(
    ("function", "arguments", "name"),
    [
        (policy_gradient_loss, (_batch(1.0, 2.0), _batch(1.0)), "weights"),
        (policy_gradient_loss, (_batch(), _batch()), "log_probs"),
        (
            policy_gradient_loss,
            (torch.zeros(2, 1, dtype=torch.float64), _batch(1.0, 2.0)),
            "log_probs",
        ),
        (ppo_clip_objective, (_batch(1.0), _batch(1.0, 2.0), _batch(1.0), 0.2), "log_prob_old"),
        (ppo_clip_objective, (_batch(1.0), _batch(1.0), _batch(1.0), -0.1), "clip_eps"),
        (ppo_clip_objective, (_batch(1.0), _batch(1.0), _batch(1.0), math.nan), "clip_eps"),
        (
            kl_penalty_objective,
            (_batch(1.0), _batch(1.0), _batch(1.0), _batch(1.0, 2.0), 1.0),
            "kl",
        ),
        (kl_penalty_objective, (_batch(1.0), _batch(1.0), _batch(1.0), _batch(1.0), -1.0), "beta"),
        (adapt_kl_beta, (0.0, 0.01, 0.01), "beta"),
        (adapt_kl_beta, (1.0, math.inf, 0.01), "kl"),
        (adapt_kl_beta, (1.0, 0.01, 0.0), "target_kl"),
    ],
)
def test_bad_values_raise_value_error_naming_the_argument(function, arguments, name):
    with pytest.raises(ValueError, match=name):
        function(*arguments)


@pytest.mark.parametrize(
    ("function", "arguments", "name"),
    [
        (policy_gradient_loss, ([1.0], _batch(1.0)), "log_probs"),
        (policy_gradient_loss, (_batch(1.0), torch.tensor([1])), "weights"),
        (ppo_clip_objective, (_batch(1.0), _batch(1.0), _batch(1.0), "0.2"), "clip_eps"),
        (kl_penalty_objective, (_batch(1.0), _batch(1.0), _batch(1.0), _batch(1.0), None), "beta"),
        (adapt_kl_beta, (1.0, True, 0.01), "kl"),
    ],
)
def test_bad_types_raise_type_error_naming_the_argument(function, arguments, name):
    with pytest.raises(TypeError, match=name):
        function(*arguments)


def test_adapt_kl_beta_accepts_zero_dim_tensors_and_returns_a_float():
    result = adapt_kl_beta(torch.tensor(1.0), torch.tensor(0.0), torch.tensor(0.01))
    assert type(result) is float and result == 0.5
    # a slightly negative sample estimate of the KL counts as below the target
    assert adapt_kl_beta(1.0, -1e-4, 0.01) == 0.5
