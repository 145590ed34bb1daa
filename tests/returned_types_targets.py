"""Implementations that return their result in another type than their backend's.

For tests/test_messages.py: the harness reads any array-like result the
contract's value can be read from (docs/contracts.md, Conventions), so the
verdict is about values; anything else fails with one message naming the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from drlspec.distributions import categorical_kl
from drlspec.policy_losses import adapt_kl_beta, policy_gradient_loss
from drlspec.replay import SumTree, per_probabilities
from drlspec.returns import discounted_returns, gae, td_target
from drlspec.value import dqn_target, dueling_aggregate


def _td_numpy(rewards, next_values, terminated, gamma) -> np.ndarray:
    rewards = np.asarray(rewards)
    not_terminated = 1.0 - np.asarray(terminated).astype(rewards.dtype)
    return rewards + rewards.dtype.type(gamma) * not_terminated * np.asarray(next_values)


def numpy_td_returns_torch(rewards, next_values, terminated, gamma) -> torch.Tensor:
    """Declared numpy (receives ndarrays), returns a tensor: correct values."""
    assert isinstance(rewards, np.ndarray), type(rewards)
    return torch.from_numpy(_td_numpy(rewards, next_values, terminated, gamma))


def torch_td_returns_numpy(rewards, next_values, terminated, gamma) -> np.ndarray:
    """Declared torch, returns an ndarray: correct values."""
    assert isinstance(rewards, torch.Tensor), type(rewards)
    return td_target(rewards, next_values, terminated, gamma).cpu().numpy()


def torch_td_returns_list(rewards, next_values, terminated, gamma) -> list[float]:
    """Returns a list of Python floats: correct values."""
    return td_target(rewards, next_values, terminated, gamma).tolist()


def numpy_td_returns_wrong_list(rewards, next_values, terminated, gamma) -> list[float]:
    """A list of wrong values (ignores termination): a failure about values, not types."""
    return (np.asarray(rewards) + gamma * np.asarray(next_values)).tolist()


def td_returns_none(rewards, next_values, terminated, gamma) -> None:
    """Computes and forgets to return."""
    td_target(rewards, next_values, terminated, gamma)


def td_returns_ragged(rewards, next_values, terminated, gamma) -> list[Any]:
    return [[1.0, 2.0], [3.0]]


def numpy_td_raises(rewards, next_values, terminated, gamma) -> None:
    raise ValueError("unsupported input")


def adapt_returns_numpy_scalar(beta, kl, target_kl) -> np.float32:
    """A ``float`` contract answered with a numpy scalar: a number, accepted."""
    return np.float64(adapt_kl_beta(beta, kl, target_kl))


def adapt_returns_array(beta, kl, target_kl) -> np.ndarray:
    """A ``float`` contract answered with a length-1 array: not a number."""
    return np.array([adapt_kl_beta(beta, kl, target_kl)])


def loss_returns_float(log_probs, weights) -> float:
    """The right value as a Python float: no gradient can flow through it."""
    return float(policy_gradient_loss(log_probs.detach(), weights))


def gae_returns_nan(rewards, values, next_values, terminated, truncated, gamma, lam) -> Any:
    return torch.full_like(
        gae(rewards, values, next_values, terminated, truncated, gamma, lam), float("nan")
    )


def returns_none(*args: Any) -> None:
    """Any function contract, answered with nothing."""


class NoneTree:
    """A sum tree whose queries answer nothing."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity

    def update(self, indices: Any, priorities: Any) -> None:
        pass

    def total(self) -> None:
        return None

    def find(self, prefix_sums: Any) -> None:
        return None

    def get(self, indices: Any) -> None:
        return None


def _tensors(args: tuple) -> list[Any]:
    return [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]


def _as_list(reference: Callable[..., torch.Tensor]) -> Callable[..., list]:
    """A numpy implementation that returns the reference's values as nested Python lists."""

    def as_list(*args: Any) -> list:
        return reference(*_tensors(args)).tolist()

    return as_list


# Correct values, as lists: must pass, with float64 (not float32) read from the floats.
discounted_returns_as_list = _as_list(discounted_returns)
gae_as_list = _as_list(gae)
dqn_target_as_list = _as_list(dqn_target)
dueling_aggregate_as_list = _as_list(dueling_aggregate)
per_probabilities_as_list = _as_list(per_probabilities)
categorical_kl_as_list = _as_list(categorical_kl)


class ListTree:
    """A correct numpy sum tree answering with a numpy scalar and Python lists."""

    def __init__(self, capacity: int) -> None:
        self.tree = SumTree(capacity)

    def update(self, indices: Any, priorities: Any) -> None:
        self.tree.update(*_tensors((indices, priorities)))

    def total(self) -> np.float64:
        return np.float64(self.tree.total())

    def find(self, prefix_sums: Any) -> list[int]:
        return np.asarray(self.tree.find(*_tensors((prefix_sums,)))).tolist()

    def get(self, indices: Any) -> list[float]:
        return np.asarray(self.tree.get(*_tensors((indices,)))).tolist()
