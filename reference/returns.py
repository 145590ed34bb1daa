"""Returns and advantages: the bootstrapped targets every value estimate regresses on.

Seed: ``1、DQN`` (损失函数设计) for the one-step target; ``2、策略梯度`` and TRPO's
``广义优势估计 GAE`` for the multi-step returns.

Episode ends come in two kinds (gymnasium >= 0.26):

* ``terminated``: the MDP reached a terminal state; the value after it is 0,
  so nothing is bootstrapped.
* ``truncated``: a time limit (or anything outside the MDP) stopped the
  episode; the next state still has value, so the target bootstraps from
  ``V(s')`` of the true next observation. Multi-step estimators additionally
  cut their trace there, because the next row of the rollout belongs to a
  new episode.
"""

from __future__ import annotations

import torch

from reference._checks import check_flags, check_floating, check_shape, check_unit_interval

__all__ = ["td_target"]


def td_target(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    r"""One-step temporal-difference target.

    .. math::  y = r + \gamma \, (1 - \text{terminated}) \, V(s')

    Args:
        rewards: ``[B]`` rewards ``r_t``.
        next_values: ``[B]`` value estimates ``V(s_{t+1})`` of the true next
            observation (before any auto-reset).
        terminated: ``[B]`` bool or 0/1 float; 1 where ``s_{t+1}`` is terminal.
            Truncation is deliberately not an argument: a truncated step
            bootstraps like any other.
        gamma: discount in ``[0, 1]``.

    Returns:
        ``[B]`` targets, in the dtype of ``rewards``.

    Seed: 1、DQN / 损失函数设计 (its ``(1-d)`` mask is right for termination
    only; see docs/errata.md). Paper: Sutton & Barto (2018), eq. 6.2.
    """
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["B"])
    batch = rewards.shape[0]
    check_floating("next_values", next_values)
    check_shape("next_values", next_values, [batch])
    check_flags("terminated", terminated, [batch])
    gamma = check_unit_interval("gamma", gamma)

    not_terminated = 1.0 - terminated.to(rewards.dtype)
    return rewards + gamma * not_terminated * next_values.to(rewards.dtype)
