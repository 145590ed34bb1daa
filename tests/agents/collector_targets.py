"""The agents' collectors in the signature of the contract ``collect_transitions``.

``tests/agents/test_collectors.py`` verifies them against the contract in both autoreset
modes: what an agent learns from is what these return.

* :func:`rollout_collector`: :class:`drlspec.agents.rollout.RolloutCollector` (REINFORCE,
  Actor-Critic, TRPO, PPO) with a policy that plays ``act``; its :class:`Rollout` read back.
* :func:`dqn_replay`: the DQN loop's :func:`drlspec.agents.dqn.record_step` into a
  :class:`drlspec.replay.ReplayBuffer`; the valid rows are read back *from the buffer* (what
  the agent samples), the reset rows from the step's own row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from drlspec.agents.dqn import record_step
from drlspec.agents.rollout import RolloutCollector
from drlspec.collection import FIELDS, CollectorCarry
from drlspec.replay import ReplayBuffer


class _Run:
    """Stands for the run folder: episodes are not what is checked here."""

    def log_episode(self, step: int, episode_return: float, length: int) -> None:
        pass


class _PlaysAct:
    """A policy head whose samples are ``act``'s actions (log-probabilities 0)."""

    def __init__(self, act: Any) -> None:
        self.act = act

    def sample(self, observations: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(np.asarray(self.act(observations.numpy())))

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return torch.zeros(observations.shape[0])

    def sample_with_log_prob(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sample(observations), torch.zeros(observations.shape[0])


def _start(envs: Any) -> CollectorCarry:
    observations, _ = envs.reset()
    return CollectorCarry(np.asarray(observations), np.zeros(envs.num_envs, dtype=bool))


def rollout_collector(envs: Any, act: Any, num_steps: int, carry: Any) -> tuple[dict, Any]:
    """``num_steps`` rows of a :class:`RolloutCollector`, as the contract's arrays."""
    if carry is None:
        carry = RolloutCollector(envs, _start(envs), _PlaysAct(act), _Run(), torch.device("cpu"))
    carry.policy = _PlaysAct(act)
    rollout, _ = carry.collect(num_steps, 0)
    return {name: getattr(rollout, name).numpy() for name in FIELDS}, carry


def dqn_replay(envs: Any, act: Any, num_steps: int, carry: Any) -> tuple[dict, Any]:
    """``num_steps`` steps of the DQN loop's recording; valid rows read from the buffer."""
    if carry is None:
        buffer = ReplayBuffer.from_spaces(
            10_000, envs.single_observation_space, envs.single_action_space
        )
        carry = (_start(envs), buffer)
    where, buffer = carry
    rows: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
    for _ in range(num_steps):
        start = len(buffer)
        row, where = record_step(envs, act, where, buffer)
        stored = iter(range(start, len(buffer)))
        recorded = {name: np.array(row[name], copy=True) for name in FIELDS}
        for i in np.flatnonzero(row["valid"]):
            index = next(stored)
            for name in FIELDS[:-1]:
                recorded[name][i] = buffer._arrays[name][index]
        for name in FIELDS:
            rows[name].append(recorded[name])
    return {name: np.stack(values) for name, values in rows.items()}, (where, buffer)
