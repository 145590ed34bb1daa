"""Value-based targets and the dueling head: DQN, Double DQN, Dueling DQN.

Seed: ``1、DQN`` (损失函数设计, 目标网络), ``:four: Double DQN``,
``:five: Dueling DQN``. Each target is the one-step TD target
(:func:`drlspec.returns.td_target`) with a different estimate of the next
state's value; the only thing these functions decide is *which* value.
"""

from __future__ import annotations

from typing import Literal

import torch

from drlspec.checks import check_floating, check_shape
from drlspec.returns import td_target

__all__ = ["double_dqn_target", "dqn_target", "dueling_aggregate"]


def _check_next_q(name: str, next_q: torch.Tensor, batch: int) -> None:
    check_floating(name, next_q)
    check_shape(name, next_q, [batch, "A"])
    if next_q.shape[1] == 0:
        raise ValueError(f"{name} must have at least one action, got shape {list(next_q.shape)}")


def dqn_target(
    rewards: torch.Tensor,
    next_q_target: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    r"""DQN target: the target network both selects and evaluates the next action.

    .. math::  y = r + \gamma \, (1 - \text{terminated}) \, \max_{a'} Q_{\theta^-}(s', a')

    Args:
        rewards: ``[B]``.
        next_q_target: ``[B, A]`` target-network values ``Q_{θ⁻}(s', ·)``.
        terminated: ``[B]`` bool or 0/1 float.
        gamma: discount in ``[0, 1]``.

    Returns:
        ``[B]`` targets.

    Seed: 1、DQN / 损失函数设计, 目标网络. Paper: Mnih et al. (2015), Algorithm 1.
    """
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["B"])
    _check_next_q("next_q_target", next_q_target, rewards.shape[0])
    next_values = next_q_target.max(dim=1).values
    return td_target(rewards, next_values, terminated, gamma)


def double_dqn_target(
    rewards: torch.Tensor,
    next_q_online: torch.Tensor,
    next_q_target: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    r"""Double DQN target: the online network selects, the target network evaluates.

    .. math::
        a^* = \arg\max_{a'} Q_\theta(s', a'), \qquad
        y = r + \gamma \, (1 - \text{terminated}) \, Q_{\theta^-}(s', a^*)

    Decoupling selection from evaluation removes the maximisation bias of
    :func:`dqn_target`; consequently ``y`` never exceeds the DQN target built
    from the same ``next_q_target``. Ties in ``Q_θ`` may be broken either way.

    Args:
        rewards: ``[B]``.
        next_q_online: ``[B, A]`` online-network values ``Q_θ(s', ·)``.
        next_q_target: ``[B, A]`` target-network values ``Q_{θ⁻}(s', ·)``.
        terminated: ``[B]`` bool or 0/1 float.
        gamma: discount in ``[0, 1]``.

    Returns:
        ``[B]`` targets.

    Seed: :four: Double DQN. Paper: van Hasselt, Guez & Silver (2016), eq. 4.
    """
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["B"])
    batch = rewards.shape[0]
    _check_next_q("next_q_online", next_q_online, batch)
    _check_next_q("next_q_target", next_q_target, batch)
    if next_q_online.shape != next_q_target.shape:
        raise ValueError(
            "next_q_online and next_q_target must have the same shape, got "
            f"{list(next_q_online.shape)} and {list(next_q_target.shape)}"
        )
    greedy_actions = next_q_online.argmax(dim=1, keepdim=True)
    next_values = next_q_target.gather(1, greedy_actions).squeeze(1)
    return td_target(rewards, next_values, terminated, gamma)


def dueling_aggregate(
    value: torch.Tensor,
    advantages: torch.Tensor,
    mode: Literal["mean", "max"] = "mean",
) -> torch.Tensor:
    r"""Combine the dueling streams into action values.

    .. math::
        Q(s, a) = V(s) + A(s, a) - \frac{1}{|\mathcal{A}|}\sum_{a'} A(s, a')
        \quad (\text{mode="mean"}), \qquad
        Q(s, a) = V(s) + A(s, a) - \max_{a'} A(s, a') \quad (\text{mode="max"})

    Subtracting a per-state baseline makes ``V`` and ``A`` identifiable: with
    ``"max"`` the greedy action's value equals ``V``; with ``"mean"`` the mean
    over actions equals ``V``. Either way the greedy action is that of ``A``,
    and the Bellman target still takes ``max_a Q`` (the seed's claim that mean
    centering changes the target is wrong; see docs/errata.md).

    Args:
        value: ``[B, 1]`` state values ``V(s)``.
        advantages: ``[B, A]`` advantages ``A(s, ·)``.
        mode: ``"mean"`` (Wang et al.'s practical choice) or ``"max"``.

    Returns:
        ``[B, A]`` action values.

    Seed: :five: Dueling DQN (一、减去最大值, 二、最大值可以替换为均值).
    Paper: Wang et al. (2016), eqs. 8 and 9.
    """
    check_floating("advantages", advantages)
    check_shape("advantages", advantages, ["B", "A"])
    batch, num_actions = advantages.shape
    if num_actions == 0:
        raise ValueError("advantages must have at least one action, got shape [B, 0]")
    check_floating("value", value)
    check_shape("value", value, [batch, 1])
    if mode == "mean":
        baseline = advantages.mean(dim=1, keepdim=True)
    elif mode == "max":
        baseline = advantages.max(dim=1, keepdim=True).values
    else:
        raise ValueError(f"mode must be 'mean' or 'max', got {mode!r}")
    return value + advantages - baseline
