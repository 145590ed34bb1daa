"""torchrl's DQN targets and dueling head as the ``dqn_target``, ``double_dqn_target`` and
``dueling_aggregate`` contracts (torchrl 0.14.1).

``DQNLoss.forward`` (``torchrl/objectives/dqn.py`` lines 293-354) gets the target from its
value estimator, ``TD0Estimator.value_estimate`` (``objectives/value/advantages.py`` lines
1268-1310): ``td0_return_estimate(gamma, next_value, reward, done, terminated)`` with
``gamma`` the estimator's buffer ``torch.tensor(gamma)`` (line 1151: default dtype,
float32). ``next_value`` is the target network's greedy value, picked by ``QValueModule``
(``modules/tensordict_module/actors.py`` lines 714-958) and, with ``double_dqn=True``,
the target network's value of the online network's greedy action (``dqn.py`` lines
325-348). The networks' outputs are the contract's ``next_q_online`` and
``next_q_target``; the adapters call ``QValueModule``'s static selection methods and
``td0_return_estimate`` unchanged and transcribe the lines between them.

``QValueModule`` picks by ``action_space``: ``"categorical"`` is ``argmax`` (the first
maximum), ``"one_hot"`` (what a gym ``Discrete`` action spec gives) marks *every* action
equal to the maximum, and the chosen value is ``(action * values).sum(-1)``: at an exact
tie the values of all tied actions are summed.

``DuelingMlpDQNet.forward`` (``modules/models/models.py`` lines 957-961) aggregates
``value + advantage - advantage.mean(dim=-1, keepdim=True)``; torchrl has no ``"max"`` mode.
"""

from __future__ import annotations

import torch
from torchrl.modules.tensordict_module.actors import QValueModule
from torchrl.objectives.value.functional import td0_return_estimate

from peers.checks import Check

__all__ = [
    "double_dqn_target",
    "double_dqn_target_one_hot",
    "dqn_target",
    "dqn_target_one_hot",
    "dueling_aggregate",
    "dueling_aggregate_mean_only",
]

_ACTION = {"categorical": QValueModule._categorical, "one_hot": QValueModule._one_hot}


def _td0(rewards, next_value, terminated, gamma):
    """``TD0Estimator.value_estimate`` on ``[B, 1]`` columns (torchrl's trailing feature
    dimension), ``done = terminated`` (a time limit is not an end for a one-step target)."""
    terminated = terminated.bool().unsqueeze(-1)
    return td0_return_estimate(
        gamma=torch.tensor(gamma, device=rewards.device),
        next_state_value=next_value,
        reward=rewards.unsqueeze(-1),
        done=terminated,
        terminated=terminated,
    ).squeeze(-1)


def _greedy_value(next_q_target, action_space):
    """The target network's ``chosen_action_value`` from ``QValueModule.forward``."""
    action = _ACTION[action_space](next_q_target)
    if action_space == "categorical":
        return QValueModule._categorical_action_value(next_q_target, action)
    return QValueModule._default_action_value(next_q_target, action)


def _double_value(next_q_online, next_q_target, action_space):
    """``dqn.py`` lines 331-348: the online network's action, the target network's value."""
    next_action = _ACTION[action_space](next_q_online)
    if action_space == "categorical":
        next_action = next_action.unsqueeze(-1)
        return torch.gather(next_q_target, -1, index=next_action)
    return (next_q_target * next_action).sum(-1, keepdim=True)


def dqn_target(rewards, next_q_target, terminated, gamma):
    """``DQNLoss`` with ``action_space="categorical"``."""
    return _td0(rewards, _greedy_value(next_q_target, "categorical"), terminated, gamma)


def dqn_target_one_hot(rewards, next_q_target, terminated, gamma):
    """``DQNLoss`` with ``action_space="one_hot"``."""
    return _td0(rewards, _greedy_value(next_q_target, "one_hot"), terminated, gamma)


def double_dqn_target(rewards, next_q_online, next_q_target, terminated, gamma):
    """``DQNLoss(double_dqn=True)`` with ``action_space="categorical"``."""
    next_value = _double_value(next_q_online, next_q_target, "categorical")
    return _td0(rewards, next_value, terminated, gamma)


def double_dqn_target_one_hot(rewards, next_q_online, next_q_target, terminated, gamma):
    """``DQNLoss(double_dqn=True)`` with ``action_space="one_hot"``."""
    next_value = _double_value(next_q_online, next_q_target, "one_hot")
    return _td0(rewards, next_value, terminated, gamma)


def dueling_aggregate(value, advantages, mode):
    """``DuelingMlpDQNet.forward``'s last line; ``"max"`` has no counterpart."""
    if mode != "mean":
        raise NotImplementedError(f"torchrl's dueling networks have no {mode!r} mode")
    return value + advantages - advantages.mean(dim=-1, keepdim=True)


def dueling_aggregate_mean_only(value, advantages, mode):
    """Diagnostic, not the peer: torchrl's ``"mean"`` aggregation, the reference's
    ``"max"``. It judges the mode torchrl has on every property, those that mix modes too."""
    if mode == "mean":
        return dueling_aggregate(value, advantages, mode)
    from drlspec.value import dueling_aggregate as reference

    return reference(value, advantages, mode)


CHECKS = [
    Check("dqn_target", "peers.torchrl_value:dqn_target"),
    Check(
        "dqn_target",
        "peers.torchrl_value:dqn_target_one_hot",
        frozenset(
            {
                "test_matches_definition",
                "test_invariant_to_action_order",
                "test_rows_are_independent",
            }
        ),
        "wrong at exact ties: sums the tied actions' values",
    ),
    Check("double_dqn_target", "peers.torchrl_value:double_dqn_target"),
    Check(
        "double_dqn_target",
        "peers.torchrl_value:double_dqn_target_one_hot",
        frozenset(
            {
                "test_matches_definition",
                "test_near_ties_resolved_by_online_values",
                "test_online_values_only_select",
                "test_never_exceeds_dqn_target",
                "test_same_network_is_dqn",
            }
        ),
        "wrong at exact ties of Q_online: sums Q_target over the tied actions",
    ),
    Check(
        "dueling_aggregate",
        "peers.torchrl_value:dueling_aggregate",
        frozenset(
            {
                "test_matches_definition",
                "test_gradient_matches_definition",
                "test_max_mode_greedy_value_is_value",
                "test_per_state_constant_in_advantages_cancels",
                "test_action_differences_are_advantage_differences",
            }
        ),
        "no 'max' mode",
    ),
    Check(
        "dueling_aggregate", "peers.torchrl_value:dueling_aggregate_mean_only", note="diagnostic"
    ),
]
