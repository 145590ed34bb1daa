"""Update contracts: how a learning step wires networks, kernels and a batch together.

The kernels of :mod:`drlspec.value` say *what* a DQN target is; these functions say
which network each term comes from and where gradient may flow. They compose the
kernels: the DQN TD error is ``Q_theta(s, a) - dqn_target(...)`` with the target built
from the target network under ``no_grad``; the target-network update is the hard copy or
Polyak average every DQN-family agent performs every ``C`` steps.

Seed: ``1、DQN`` (损失函数设计, 目标网络), ``:four: Double DQN``. The seed's loss formula
evaluates the prediction with the target parameters (docs/errata.md E1); here the
prediction is the online network's and is the only term that carries gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from drlspec.checks import check_floating, check_shape, check_unit_interval
from drlspec.value import double_dqn_target, dqn_target

__all__ = ["double_dqn_td_errors", "dqn_td_errors", "target_update"]


def _check_actions(actions: object, batch: int) -> torch.Tensor:
    if not isinstance(actions, torch.Tensor):
        raise TypeError(f"actions must be a torch.Tensor, got {type(actions).__name__}")
    if actions.dtype.is_floating_point or actions.dtype.is_complex or actions.dtype == torch.bool:
        raise TypeError(f"actions must be an integer tensor, got dtype {actions.dtype}")
    # [B], never [B, 1]: a [B, 1] prediction minus a [B] target broadcasts to [B, B].
    check_shape("actions", actions, [batch])
    return actions


def _predictions(
    q_network: nn.Module, observations: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """``Q_theta(s_i, a_i)``, shape ``[B]``: the only term that carries gradient."""
    q_values = q_network(observations)
    check_floating("q_network(observations)", q_values)
    check_shape("q_network(observations)", q_values, [actions.shape[0], "A"])
    return q_values.gather(1, actions.long().unsqueeze(1)).squeeze(1)


def dqn_td_errors(
    q_network: nn.Module,
    target_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    next_observations: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    r"""Per-sample DQN TD errors: online prediction minus a target-network target.

    .. math::
        \delta_i = Q_\theta(s_i, a_i) - y_i, \qquad
        y_i = r_i + \gamma\,(1 - \text{terminated}_i)\,\max_{a'} Q_{\theta^-}(s'_i, a')

    ``y`` is built under ``no_grad`` (:func:`drlspec.value.dqn_target`): the loss
    ``mean(delta**2)`` (or Huber) trains ``theta`` through ``Q_theta(s, a)`` only, and the
    target network receives no gradient and is not modified. ``|delta|`` is prioritized
    replay's new priority.

    Args:
        q_network: online network, ``observations[B, ...] -> [B, A]``.
        target_network: target network, same interface.
        observations: ``[B, ...]`` states ``s``.
        actions: ``[B]`` integer actions (indices into the ``A`` action values).
        rewards: ``[B]``.
        next_observations: ``[B, ...]`` true next states ``s'`` (before any auto-reset).
        terminated: ``[B]`` bool or 0/1 float; truncation is not an argument (it bootstraps).
        gamma: discount in ``[0, 1]``.

    Returns:
        ``[B]`` TD errors ``Q_theta(s, a) - y``, differentiable w.r.t. ``theta``.

    Seed: 1、DQN / 损失函数设计, 目标网络 (the seed's formula predicts with θ⁻: errata E1).
    Paper: Mnih et al. (2015), Algorithm 1.
    """
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["B"])
    actions = _check_actions(actions, rewards.shape[0])
    with torch.no_grad():
        targets = dqn_target(rewards, target_network(next_observations), terminated, gamma)
    return _predictions(q_network, observations, actions) - targets


def double_dqn_td_errors(
    q_network: nn.Module,
    target_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    next_observations: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    r"""Per-sample Double DQN TD errors: the online network selects ``a'``, the target evaluates.

    .. math::
        a^*_i = \arg\max_{a'} Q_\theta(s'_i, a'), \qquad
        y_i = r_i + \gamma\,(1 - \text{terminated}_i)\,Q_{\theta^-}(s'_i, a^*_i), \qquad
        \delta_i = Q_\theta(s_i, a_i) - y_i

    The selection uses ``theta`` but carries no gradient (an argmax has none, and ``y`` is
    built under ``no_grad``, :func:`drlspec.value.double_dqn_target`); ties in
    ``Q_theta(s', .)`` may be broken either way. Arguments and result as
    :func:`dqn_td_errors`.

    Seed: :four: Double DQN. Paper: van Hasselt, Guez & Silver (2016), eq. 4.
    """
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["B"])
    actions = _check_actions(actions, rewards.shape[0])
    with torch.no_grad():
        targets = double_dqn_target(
            rewards,
            q_network(next_observations),
            target_network(next_observations),
            terminated,
            gamma,
        )
    return _predictions(q_network, observations, actions) - targets


def _tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Parameters then buffers, by name, in registration order."""
    return list(module.named_parameters()) + list(module.named_buffers())


@torch.no_grad()
def target_update(online: nn.Module, target: nn.Module, tau: float) -> None:
    r"""Move the target network towards the online network, in place.

    .. math::  \theta^- \leftarrow \tau\,\theta + (1 - \tau)\,\theta^-

    for every parameter **and** every floating-point buffer (batch-norm statistics);
    integer buffers (``num_batches_tracked``) are copied. ``tau = 1`` is the hard copy
    ``theta^- <- theta`` of DQN's target network, exact to the bit. The online network is
    not modified, and afterwards the two networks share no storage: the values are copied,
    never the tensors (``target_param.data = param.data`` would alias them).

    Args:
        online: the network whose values are copied (``theta``).
        target: a network of the same architecture (``theta^-``), updated in place.
        tau: weight of the online values, in ``(0, 1]``.

    Returns:
        ``None``.

    Seed: 1、DQN / 目标网络 (``θ⁻ ← θ`` every ``C`` steps). Papers: Mnih et al. (2015),
    Algorithm 1 (hard copy); Lillicrap et al. (2016), Algorithm 1 (soft update).
    """
    tau = check_unit_interval("tau", tau)
    if tau == 0.0:
        raise ValueError("tau must be > 0 (tau = 0 never updates the target network)")
    if online is target:
        raise ValueError("online and target are the same module: the target must be a copy")
    pairs = list(zip(_tensors(target), _tensors(online), strict=False))
    names_t = [name for name, _ in _tensors(target)]
    names_o = [name for name, _ in _tensors(online)]
    if names_t != names_o:
        raise ValueError("online and target must have the same parameters and buffers")
    for (name, t), (_, o) in pairs:
        if t.shape != o.shape:
            raise ValueError(f"{name}: target has shape {list(t.shape)}, online {list(o.shape)}")
        if tau == 1.0 or not t.is_floating_point():
            t.copy_(o)
        else:
            t.lerp_(o.to(t.dtype), tau)
