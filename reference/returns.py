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

from drlspec.checks import (
    check_flags,
    check_floating,
    check_same_device,
    check_shape,
    check_unit_interval,
)

__all__ = ["discounted_returns", "gae", "td_target"]


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
    check_same_device(rewards=rewards, next_values=next_values, terminated=terminated)
    gamma = check_unit_interval("gamma", gamma)

    not_terminated = 1.0 - terminated.to(rewards.dtype)
    return rewards + gamma * not_terminated * next_values.to(rewards.dtype)


def discounted_returns(
    rewards: torch.Tensor,
    dones: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    r"""Reward-to-go of every step, cut at episode ends, bootstrapping nothing.

    .. math::  G_t = r_t + \gamma \, (1 - \text{done}_t) \, G_{t+1}, \qquad G_T = 0

    so ``G_t = sum_{k=t}^{e} gamma^(k-t) r_k`` with ``e`` the first step at or
    after ``t`` whose ``done`` is set (or the last row). This is the Monte
    Carlo return of REINFORCE; nothing is bootstrapped, so an episode still
    running at the last row simply stops there (use :func:`gae` with
    ``lam = 1`` when the tail should be bootstrapped from a critic).

    Args:
        rewards: ``[T, N]`` rewards ``r_t`` of ``N`` parallel environments.
        dones: ``[T, N]`` bool or 0/1 float; 1 where the episode ended after
            step ``t`` (for whatever reason: no value is bootstrapped, so
            termination and truncation are the same here).
        gamma: discount in ``[0, 1]``.

    Returns:
        ``[T, N]`` returns, in the dtype of ``rewards``; an empty rollout (``T = 0``)
        gives an empty ``[0, N]`` result.

    Seed: 2、策略梯度 / REINFORCE (主要代码: ``G = self.gamma * G + reward``,
    one episode per update, so no cut is needed there; see docs/errata.md).
    Paper: Williams (1992); Sutton & Barto (2018), eq. 3.9.
    """
    gamma = check_discounted_returns_arguments(rewards, dones, gamma)
    steps, envs = rewards.shape

    # The per-step discount folds the episode cut in (rlax's ``discount_t``).
    discount = gamma * (1.0 - dones.to(rewards.dtype))
    returns = torch.empty_like(rewards)
    # G_T = 0: nothing past the batch. Sized from the shape, not from row 0, so an
    # empty rollout (T = 0) gives an empty [0, N] result.
    next_return = rewards.new_zeros(envs)
    for t in reversed(range(steps)):
        next_return = rewards[t] + discount[t] * next_return
        returns[t] = next_return
    return returns


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    r"""Generalized advantage estimate, with termination and truncation kept apart.

    .. math::

        \delta_t &= r_t + \gamma \, (1 - \text{terminated}_t) \, V(s_{t+1}) - V(s_t) \\
        A_t &= \delta_t + \gamma \lambda \,
               (1 - (\text{terminated}_t \lor \text{truncated}_t)) \, A_{t+1},
        \qquad A_T = 0

    equivalently ``A_t = sum_{l=0}^{e-t} (gamma*lam)^l delta_{t+l}`` with ``e``
    the first step at or after ``t`` that ends the episode (or the last row).

    The two flags do different jobs:

    * ``terminated_t`` removes the bootstrap from ``delta_t``: a terminal
      state is worth 0, whatever ``next_values_t`` says.
    * ``terminated_t or truncated_t`` cuts the trace: row ``t + 1`` belongs to
      the next episode (the vector env auto-reset), so nothing of it may flow
      back into step ``t``.

    A truncated step therefore still bootstraps (``delta_t`` uses
    ``next_values_t``) but starts a fresh trace. This is why ``next_values``
    is an argument rather than ``values`` shifted by one row: at an episode
    end, ``values[t + 1]`` is the value of the *reset* observation, and only
    ``next_values[t]`` (V of the true next observation, before the reset)
    is right. ``lam = 0`` gives the TD error; ``lam = 1`` the bootstrapped
    Monte Carlo return minus ``values``.

    Args:
        rewards: ``[T, N]`` rewards ``r_t``.
        values: ``[T, N]`` ``V(s_t)``.
        next_values: ``[T, N]`` ``V(s_{t+1})`` of the true next observation.
        terminated: ``[T, N]`` bool or 0/1 float; 1 where ``s_{t+1}`` is terminal.
        truncated: ``[T, N]`` bool or 0/1 float; 1 where the episode was cut
            off after step ``t`` (time limit) without reaching a terminal state.
            Both flags may be set at once; termination then decides.
        gamma: discount in ``[0, 1]``.
        lam: GAE's ``lambda`` in ``[0, 1]``.

    Returns:
        ``[T, N]`` advantages, in the dtype of ``rewards``; an empty rollout (``T = 0``)
        gives an empty ``[0, N]`` result.

    Seed: :four: TRPO / 广义优势估计 GAE (its ``compute_advantage`` never cuts the
    trace at episode ends; see docs/errata.md). Paper: Schulman et al. (2016),
    "High-Dimensional Continuous Control Using Generalized Advantage
    Estimation", eq. 16.
    """
    gamma, lam = check_gae_arguments(
        rewards, values, next_values, terminated, truncated, gamma, lam
    )
    steps, envs = rewards.shape

    # One place for the TD error: the one-step target, on the flattened batch.
    targets = td_target(rewards.reshape(-1), next_values.reshape(-1), terminated.reshape(-1), gamma)
    deltas = targets.reshape(steps, envs) - values.to(rewards.dtype)
    episode_ends = terminated.bool() | truncated.bool()
    trace_decay = gamma * lam * (~episode_ends).to(rewards.dtype)
    advantages = torch.empty_like(deltas)
    next_advantage = deltas.new_zeros(envs)  # A_T = 0 (and T = 0 gives an empty result)
    for t in reversed(range(steps)):
        next_advantage = deltas[t] + trace_decay[t] * next_advantage
        advantages[t] = next_advantage
    return advantages


def check_discounted_returns_arguments(
    rewards: torch.Tensor, dones: torch.Tensor, gamma: float
) -> float:
    """Entry checks of :func:`discounted_returns` (shared with its fast kernel); returns gamma."""
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["T", "N"])
    steps, envs = rewards.shape
    check_flags("dones", dones, [steps, envs])
    check_same_device(rewards=rewards, dones=dones)
    return check_unit_interval("gamma", gamma)


def check_gae_arguments(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[float, float]:
    """Entry checks of :func:`gae` (shared with its fast kernel); returns ``(gamma, lam)``."""
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["T", "N"])
    steps, envs = rewards.shape
    check_floating("values", values)
    check_shape("values", values, [steps, envs])
    check_floating("next_values", next_values)
    check_shape("next_values", next_values, [steps, envs])
    check_flags("terminated", terminated, [steps, envs])
    check_flags("truncated", truncated, [steps, envs])
    check_same_device(
        rewards=rewards,
        values=values,
        next_values=next_values,
        terminated=terminated,
        truncated=truncated,
    )
    return check_unit_interval("gamma", gamma), check_unit_interval("lam", lam)
