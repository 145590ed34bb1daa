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
"""

from __future__ import annotations

import torch
from torchrl.objectives.value.functional import (
    reward2go,
    td0_return_estimate,
    td1_return_estimate,
)

from peers.checks import Check
from peers.torchrl_layout import GEOMETRIC_THRESHOLD

__all__ = ["discounted_returns", "reward2go_where_defined", "td1_returns", "td_target"]


def discounted_returns(rewards, dones, gamma):
    """``reward2go`` as it is."""
    return reward2go(rewards, dones.bool(), gamma)


def td1_returns(rewards, dones, gamma):
    """``td1_return_estimate`` with ``next_state_value = 0`` and ``done = terminated``."""
    dones = dones.bool()
    return td1_return_estimate(gamma, torch.zeros_like(rewards), rewards, dones, dones)


def reward2go_where_defined(rewards, dones, gamma):
    """Diagnostic, not the peer as it is: ``reward2go`` wherever it runs (``gamma >= 1e-7``),
    torchrl's own ``td1_return_estimate`` below that. It shows that the
    threshold is ``reward2go``'s only disagreement with the contract."""
    if gamma < GEOMETRIC_THRESHOLD:
        return td1_returns(rewards, dones, gamma)
    return discounted_returns(rewards, dones, gamma)


def td_target(rewards, next_values, terminated, gamma):
    """``td0_return_estimate`` on ``[B]`` arrays (it is elementwise)."""
    return td0_return_estimate(gamma, next_values, rewards, terminated.bool())


CHECKS = [
    Check(
        "discounted_returns",
        "peers.torchrl_returns:discounted_returns",
        frozenset(
            {
                "test_matches_definition",
                "test_satisfies_recursion",
                "test_nothing_flows_back_across_done",
                "test_linear_in_rewards",
                "test_gamma_zero_gives_rewards",
                "test_columns_permute",
                "test_columns_independent",
                "test_flag_dtypes_agree",
            }
        ),
        "wrong: IndexError when gamma < 1e-7 (gamma = 0 included)",
    ),
    Check("discounted_returns", "peers.torchrl_returns:td1_returns"),
    Check("discounted_returns", "peers.torchrl_returns:reward2go_where_defined", note="diagnostic"),
    Check("td_target", "peers.torchrl_returns:td_target"),
]
