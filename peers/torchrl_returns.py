"""torchrl's return functions as the ``discounted_returns`` and ``td_target`` contracts.

* ``reward2go(reward, done, gamma)``: the discounted reward-to-go cut at
  ``done``, computed as a convolution with ``[1, gamma, gamma^2, ...]`` per
  trajectory; time along dimension -2, so the contract's ``[T, N]`` goes in
  as is.
* ``td1_return_estimate(gamma, next_state_value, reward, done, terminated)``:
  the TD(1) (Monte Carlo) return, a reverse loop. With ``done = terminated``
  and ``next_state_value = 0`` nothing is bootstrapped: the contract's return.
* ``td0_return_estimate(gamma, next_state_value, reward, terminated)``: the
  one-step target.

``reward2go`` builds its filter ``[1, gamma, gamma^2, ...]`` with ``_geom_series_like``
(see :mod:`peers.torchrl_gae`): ``IndexError`` for ``gamma < 1e-7`` and, above that, the
last power at or above ``1e-7`` dropped.
"""

from __future__ import annotations

import torch
from torchrl.objectives.value.functional import (
    reward2go,
    td0_return_estimate,
    td1_return_estimate,
)

from peers.checks import EVERY_PROPERTY, Check
from peers.torchrl_gae import CONVOLUTION_DTYPE, filter_as_documented

__all__ = ["discounted_returns", "reward2go_documented_filter", "td1_returns", "td_target"]


def discounted_returns(rewards, dones, gamma):
    """``reward2go`` as it is, on float32 rewards (see :data:`CONVOLUTION_DTYPE`)."""
    return reward2go(rewards.to(CONVOLUTION_DTYPE), dones.bool(), gamma).to(rewards.dtype)


def td1_returns(rewards, dones, gamma):
    """``td1_return_estimate`` with ``next_state_value = 0`` and ``done = terminated``."""
    dones = dones.bool()
    return td1_return_estimate(gamma, torch.zeros_like(rewards), rewards, dones, dones)


def reward2go_documented_filter(rewards, dones, gamma):
    """Diagnostic, not the peer as it is: ``reward2go`` with the filter its docstring
    describes (every power of ``gamma`` at or above ``1e-7``, and ``[1]`` below it). It
    shows whether the filter's two defects are ``reward2go``'s only disagreements."""
    with filter_as_documented():
        return discounted_returns(rewards, dones, gamma)


def td_target(rewards, next_values, terminated, gamma):
    """``td0_return_estimate`` on ``[B]`` arrays (it is elementwise)."""
    return td0_return_estimate(gamma, next_values, rewards, terminated.bool())


# reward2go_documented_filter is a diagnostic for docs/peers.md, not a check (see
# peers/torchrl_gae.py).
CHECKS = [
    Check(
        "discounted_returns",
        "peers.torchrl_returns:discounted_returns",
        EVERY_PROPERTY,
        "wrong: IndexError when gamma < 1e-7; drops a power >= 1e-7; time-out at T = 3001",
    ),
    Check("discounted_returns", "peers.torchrl_returns:td1_returns"),
    Check("td_target", "peers.torchrl_returns:td_target"),
]
