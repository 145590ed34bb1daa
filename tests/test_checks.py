"""Scalar arguments across the reference kernels: numpy's numbers are numbers.

``drlspec.checks.check_scalar`` is the one checker of every scalar argument (gamma, lam,
alpha, beta, eps, sizes, tolerances). A ``np.float32`` gamma (what ``np.float32(0.99)`` or a
float32 config array gives) must be as good as ``0.99``, ``np.int64`` sizes as good as ints,
and 0-d arrays as good as 0-d tensors; bools, complex numbers, strings and NaN stay refused,
with messages naming the argument. Every kernel that takes a scalar is called here once per
scalar argument and kind of number.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drlspec.checks import check_positive_int, check_scalar, check_unit_interval
from drlspec.policy_losses import adapt_kl_beta, kl_penalty_objective, ppo_clip_objective
from drlspec.replay import PrioritizedReplayBuffer, SumTree, importance_weights, per_probabilities
from drlspec.returns import discounted_returns, gae, td_target
from drlspec.trust_region import (
    conjugate_gradient,
    fisher_vector_product,
    kkt_step,
    line_search,
)
from drlspec.value import double_dqn_target, dqn_target

B = 4
_ZEROS = torch.zeros(B)
_FLAGS = torch.zeros(B, dtype=torch.bool)
_ROLLOUT = torch.zeros(3, 2)
_ROLLOUT_FLAGS = torch.zeros(3, 2, dtype=torch.bool)


def _fisher(damping):
    param = torch.nn.Parameter(torch.ones(2))
    return fisher_vector_product(lambda: (param**2).sum(), [param], torch.ones(2), damping)


def _line_search(max_kl=0.1, backtrack=0.5, max_backtracks=3):
    return line_search(
        lambda p: -(p**2).sum(),
        lambda p: (p**2).sum() * 0.0,
        torch.ones(2),
        -torch.ones(2),
        max_kl,
        backtrack,
        max_backtracks,
    )


# (kernel and argument, a call given the scalar, a valid float value, a valid int value or None)
FLOAT_ARGUMENTS = {
    "td_target.gamma": lambda v: td_target(_ZEROS, _ZEROS, _FLAGS, v),
    "discounted_returns.gamma": lambda v: discounted_returns(_ROLLOUT, _ROLLOUT_FLAGS, v),
    "gae.gamma": lambda v: gae(_ROLLOUT, _ROLLOUT, _ROLLOUT, _ROLLOUT_FLAGS, _ROLLOUT_FLAGS, v, 1),
    "gae.lam": lambda v: gae(_ROLLOUT, _ROLLOUT, _ROLLOUT, _ROLLOUT_FLAGS, _ROLLOUT_FLAGS, 1, v),
    "dqn_target.gamma": lambda v: dqn_target(_ZEROS, torch.zeros(B, 2), _FLAGS, v),
    "double_dqn_target.gamma": lambda v: double_dqn_target(
        _ZEROS, torch.zeros(B, 2), torch.zeros(B, 2), _FLAGS, v
    ),
    "per_probabilities.alpha": lambda v: per_probabilities(torch.ones(B), v),
    "importance_weights.beta": lambda v: importance_weights(torch.full((B,), 0.25), B, v),
    "PrioritizedReplayBuffer.alpha": lambda v: PrioritizedReplayBuffer(4, (1,), alpha=v),
    "PrioritizedReplayBuffer.beta0": lambda v: PrioritizedReplayBuffer(4, (1,), beta0=v),
    "PrioritizedReplayBuffer.eps": lambda v: PrioritizedReplayBuffer(4, (1,), eps=v),
    "ppo_clip_objective.clip_eps": lambda v: ppo_clip_objective(_ZEROS, _ZEROS, _ZEROS, v),
    "kl_penalty_objective.beta": lambda v: kl_penalty_objective(_ZEROS, _ZEROS, _ZEROS, _ZEROS, v),
    "adapt_kl_beta.beta": lambda v: adapt_kl_beta(v, 0.01, 0.01),
    "adapt_kl_beta.kl": lambda v: adapt_kl_beta(1.0, v, 0.5),
    "adapt_kl_beta.target_kl": lambda v: adapt_kl_beta(1.0, 0.01, v),
    "fisher_vector_product.damping": _fisher,
    "conjugate_gradient.residual_tol": lambda v: conjugate_gradient(lambda x: x, _ZEROS + 1, 2, v),
    "kkt_step.max_kl": lambda v: kkt_step(torch.ones(2), torch.ones(2), v),
    "line_search.max_kl": lambda v: _line_search(max_kl=v),
    "line_search.backtrack": lambda v: _line_search(backtrack=v),
}

INT_ARGUMENTS = {
    "importance_weights.size": lambda v: importance_weights(torch.full((B,), 0.25), v, 1.0),
    "SumTree.capacity": SumTree,
    "PrioritizedReplayBuffer.capacity": lambda v: PrioritizedReplayBuffer(v, (1,)),
    "PrioritizedReplayBuffer.beta_steps": lambda v: PrioritizedReplayBuffer(4, (1,), beta_steps=v),
    "conjugate_gradient.iters": lambda v: conjugate_gradient(lambda x: x, _ZEROS + 1, v, 1e-10),
    "line_search.max_backtracks": lambda v: _line_search(max_backtracks=v),
}


def _name(argument: str) -> str:
    return argument.split(".")[1]


NUMPY_FLOATS = [np.float32(0.5), np.float16(0.5), np.float64(0.5), np.longdouble(0.5)]
NUMPY_INTS = [np.int64(3), np.int32(3), np.uint8(3), np.int16(3)]


@pytest.mark.parametrize("argument", FLOAT_ARGUMENTS)
@pytest.mark.parametrize("value", [*NUMPY_FLOATS, np.array(0.5, np.float32)], ids=repr)
def test_numpy_numbers_are_accepted_and_mean_their_value(argument, value):
    call = FLOAT_ARGUMENTS[argument]
    got, want = call(value), call(float(value))
    if isinstance(got, torch.Tensor):
        assert torch.equal(got, want)
    elif isinstance(got, float):
        assert got == want


@pytest.mark.parametrize("argument", [a for a in FLOAT_ARGUMENTS if _name(a) in ("gamma", "lam")])
@pytest.mark.parametrize("value", [np.int64(0), np.uint8(1), np.array(1)], ids=repr)
def test_numpy_integers_are_numbers_where_floats_are(argument, value):
    call = FLOAT_ARGUMENTS[argument]
    assert torch.equal(call(value), call(float(value)))


@pytest.mark.parametrize("argument", INT_ARGUMENTS)
@pytest.mark.parametrize("value", NUMPY_INTS, ids=repr)
def test_numpy_integers_are_accepted_as_sizes(argument, value):
    INT_ARGUMENTS[argument](value)


@pytest.mark.parametrize("argument", FLOAT_ARGUMENTS)
@pytest.mark.parametrize(
    "value",
    [np.bool_(True), True, np.complex64(0.5), complex(0.5), "0.5", np.str_("0.5"), None],
    ids=repr,
)
def test_bools_complex_and_strings_are_refused_naming_the_argument(argument, value):
    with pytest.raises(TypeError, match=rf"^{_name(argument)} must be "):
        FLOAT_ARGUMENTS[argument](value)


@pytest.mark.parametrize("argument", FLOAT_ARGUMENTS)
@pytest.mark.parametrize("value", [np.float32("nan"), np.float64("inf"), np.float32("-inf")])
def test_numpy_nan_and_inf_are_refused_naming_the_argument(argument, value):
    with pytest.raises(ValueError, match=rf"^{_name(argument)} must be "):
        FLOAT_ARGUMENTS[argument](value)


@pytest.mark.parametrize("argument", INT_ARGUMENTS)
@pytest.mark.parametrize(
    "value", [np.float32(3.0), np.float64(3.0), np.bool_(True), True, np.int64(0)], ids=repr
)
def test_sizes_refuse_floats_bools_and_zero(argument, value):
    with pytest.raises((TypeError, ValueError), match=rf"^{_name(argument)} must be "):
        INT_ARGUMENTS[argument](value)


@pytest.mark.parametrize("value", [np.float32(1.5), np.float32(-0.25), np.int64(2)], ids=repr)
def test_numpy_numbers_outside_the_range_get_the_same_message_as_python_ones(value):
    with pytest.raises(ValueError) as numpy_error:
        check_unit_interval("gamma", value)
    with pytest.raises(ValueError) as python_error:
        check_unit_interval("gamma", value.item())
    assert str(numpy_error.value) == str(python_error.value)


def test_float32_gamma_means_its_float32_value():
    """``float(np.float32(0.9))`` is 0.8999999761581421: the number given, not 0.9."""
    assert check_unit_interval("gamma", np.float32(0.9)) == float(np.float32(0.9))


def test_zero_dimensional_arrays_follow_the_tensor_rule():
    assert check_scalar("x", np.array(2.5)) == 2.5
    assert check_scalar("x", np.array(7, np.int64), integer=True) == 7
    with pytest.raises(TypeError, match="x must be"):
        check_scalar("x", np.array(True))
    with pytest.raises(TypeError, match="x must be"):
        check_scalar("x", np.array([2.5]))
    # Where 0-d tensors are refused (tensor=False: network sizes), so are 0-d arrays.
    with pytest.raises(TypeError, match="obs_dim must be an int"):
        check_positive_int("obs_dim", np.array(3))
    assert check_positive_int("obs_dim", np.int64(3)) == 3
