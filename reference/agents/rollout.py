"""On-policy rollouts for the policy-gradient agents (REINFORCE, Actor-Critic, TRPO, PPO).

A rollout is ``T`` steps of ``N`` parallel environments, stored ``[T, N, ...]``, recorded by the
contract :func:`drlspec.collection.collect_transitions` in either autoreset mode. Each row keeps
the *true* next observation (the last one where an episode ended), so that the agent can compute
``next_values = V(s_{t+1})`` for :func:`drlspec.returns.gae` and
:func:`drlspec.returns.td_target`: a truncated step bootstraps from the observation the time
limit cut, never from the reset one. ``valid`` is false on a next-step reset row, which is not a
transition: :meth:`Rollout.rows` leaves those rows out of every loss (GAE runs on ``[T, N]``;
the row before a reset row ends its episode, so no valid row's advantage reads a reset row).

Seed: 2、策略梯度 / :three: Actor-Critic and :four: TRPO / 主要代码 (``transition_dict`` of one
episode with a single ``dones`` flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from drlspec.agents.environments import EpisodeTracker
from drlspec.agents.guards import check_finite
from drlspec.agents.run_folder import Run
from drlspec.collection import CollectorCarry, collect_transitions
from drlspec.policies import CategoricalPolicy, GaussianPolicy

__all__ = ["Rollout", "RolloutCollector", "build_policy", "env_actions"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def build_policy(
    observation_space: spaces.Box,
    action_space: spaces.Space,
    hidden_sizes: Sequence[int],
    activation: str,
    log_std_init: float = 0.0,
) -> CategoricalPolicy | GaussianPolicy:
    """A softmax policy for ``Discrete`` actions, a diagonal Gaussian for a ``Box``."""
    obs_dim = int(observation_space.shape[0])
    layer = ACTIVATIONS[activation]
    if isinstance(action_space, spaces.Discrete):
        return CategoricalPolicy(obs_dim, int(action_space.n), hidden_sizes, layer)
    return GaussianPolicy(
        obs_dim, int(action_space.shape[0]), hidden_sizes, log_std_init, activation=layer
    )


def env_actions(actions: torch.Tensor, action_space: spaces.Space) -> np.ndarray:
    """What the environment gets: indices, or Gaussian samples clipped to the action bounds.

    The log-probability is always that of the unclipped sample (the policy's own action).
    """
    array = actions.cpu().numpy()
    if isinstance(action_space, spaces.Box):
        return np.clip(array, action_space.low, action_space.high).astype(action_space.dtype)
    return array


@dataclass
class Rollout:
    """``T`` steps of ``N`` environments; every tensor is ``[T, N, ...]`` on the agent's device.

    ``log_probs`` (of the sampled actions under the policy that sampled them) is ``None`` where
    the collector was told they are not needed (REINFORCE and Actor-Critic re-evaluate them).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor | None
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    next_observations: torch.Tensor
    valid: torch.Tensor

    def flat(self, name: str) -> torch.Tensor:
        """``[T * N, ...]`` view of a field (every row, reset rows included)."""
        tensor = getattr(self, name)
        return tensor.reshape(-1, *tensor.shape[2:])

    def rows(self, field: str | torch.Tensor) -> torch.Tensor:
        """``[M, ...]``: the transitions of a field (or of a ``[T, N, ...]`` tensor), flattened.

        Every row when all are valid (same-step autoreset: ``M = T * N``); else the valid ones.
        """
        tensor = getattr(self, field) if isinstance(field, str) else field
        flat = tensor.reshape(-1, *tensor.shape[2:])
        if bool(self.valid.all()):
            return flat
        return flat[self.valid.reshape(-1)]


class RolloutCollector:
    """Steps ``envs`` with ``policy`` and records episodes into ``run``."""

    def __init__(
        self,
        envs,
        carry: CollectorCarry,
        policy: CategoricalPolicy | GaussianPolicy,
        run: Run,
        device: torch.device,
        tracker: EpisodeTracker | None = None,
    ) -> None:
        self.envs = envs
        self.carry = carry
        self.policy = policy
        self.run = run
        self.device = device
        self.num_envs = envs.num_envs
        self.tracker = tracker or EpisodeTracker(self.num_envs)

    def state(self) -> dict[str, Any]:
        """The environments mid-episode, for a checkpoint (see ``start_environments``)."""
        return {
            "envs": self.envs,
            "observations": self.carry.observations,
            "episode_ended": self.carry.episode_ended,
            "tracker": self.tracker,
        }

    def collect(self, steps: int, step: int, log_probs: bool = True) -> tuple[Rollout, int]:
        """``steps`` rows (``steps * N`` env steps); returns the rollout and the new step.

        The behaviour policy's log-probabilities come from the forward pass that samples the
        actions; ``log_probs=False`` skips them: ``rollout.log_probs`` is then ``None``.
        """
        act, sampled, sampled_log_probs = self._actor(step, log_probs)
        transitions, self.carry = collect_transitions(self.envs, act, steps, self.carry)
        for t in range(steps):
            step = self._record_row(transitions, t, step)
        return self._rollout(transitions, sampled, sampled_log_probs), step

    def collect_episodes(
        self, episodes: int, step: int, log_probs: bool = True
    ) -> tuple[Rollout, int]:
        """Rows until ``episodes`` episodes have ended, counted over all ``N`` environments
        (REINFORCE's whole episodes); returns the rollout of however many rows that took and
        the new step. The same steps, draws, records and checks as :meth:`collect` called for
        one row at a time until then, without a rollout per row."""
        act, sampled, sampled_log_probs = self._actor(step, log_probs)
        rows: list[dict[str, np.ndarray]] = []
        ended = 0
        while ended < episodes:
            row, self.carry = collect_transitions(self.envs, act, 1, self.carry)
            rows.append(row)
            step = self._record_row(row, 0, step)
            ended += int(np.count_nonzero(row["valid"] & (row["terminated"] | row["truncated"])))
        transitions = {name: np.concatenate([row[name] for row in rows]) for name in rows[0]}
        return self._rollout(transitions, sampled, sampled_log_probs), step

    def _actor(
        self, step: int, log_probs: bool
    ) -> tuple[Any, list[torch.Tensor], list[torch.Tensor]]:
        """The ``act`` that :func:`collect_transitions` calls, and the lists it fills: each
        row's sampled actions and (with ``log_probs``) their log-probabilities."""
        action_space = self.envs.single_action_space
        sampled: list[torch.Tensor] = []
        sampled_log_probs: list[torch.Tensor] = []
        counter = [step]

        def act(observations: np.ndarray) -> np.ndarray:
            check_finite("observation", observations, counter[0])
            obs = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
            with torch.no_grad():
                if log_probs:
                    actions, log_prob = self.policy.sample_with_log_prob(obs)
                    sampled_log_probs.append(log_prob)
                else:
                    actions = self.policy.sample(obs)
            sampled.append(actions)
            counter[0] += self.num_envs
            return env_actions(actions, action_space)

        return act, sampled, sampled_log_probs

    def _record_row(self, transitions: dict[str, np.ndarray], t: int, step: int) -> int:
        """Row ``t``'s rewards and next observations checked (a NaN is reported at the step
        where it entered) and its finished episodes logged; the step after it."""
        step += self.num_envs
        check_finite("reward", transitions["rewards"][t], step)
        check_finite("observation", transitions["next_observations"][t], step)
        for episode_return, length in self.tracker.update(
            transitions["rewards"][t],
            transitions["terminated"][t],
            transitions["truncated"][t],
            transitions["valid"][t],
        ):
            self.run.log_episode(step, episode_return, length)
        return step

    def _rollout(
        self,
        transitions: dict[str, np.ndarray],
        sampled: list[torch.Tensor],
        sampled_log_probs: list[torch.Tensor],
    ) -> Rollout:
        def tensor(name: str, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(transitions[name], dtype=dtype, device=self.device)

        rollout = Rollout(
            observations=tensor("observations", torch.float32),
            # The policy's own samples (a Gaussian's unclipped), not what the environment got.
            actions=torch.stack(sampled),
            log_probs=torch.stack(sampled_log_probs) if sampled_log_probs else None,
            rewards=tensor("rewards", torch.float32),
            terminated=tensor("terminated", torch.bool),
            truncated=tensor("truncated", torch.bool),
            next_observations=tensor("next_observations", torch.float32),
            valid=tensor("valid", torch.bool),
        )
        return rollout
