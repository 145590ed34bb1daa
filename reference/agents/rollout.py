"""On-policy rollouts for the policy-gradient agents (REINFORCE, Actor-Critic, TRPO, PPO).

A rollout is ``T`` steps of ``N`` parallel environments, stored ``[T, N, ...]``. Each row keeps
the *true* next observation (``final_obs`` where an episode ended, see
:func:`drlspec.agents.environments.true_next_observations`), so that the agent can compute
``next_values = V(s_{t+1})`` for :func:`drlspec.returns.gae` and
:func:`drlspec.returns.td_target`: a truncated step bootstraps from the observation the time
limit cut, never from the reset one.

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

from drlspec.agents.environments import EpisodeTracker, true_next_observations
from drlspec.agents.guards import check_finite
from drlspec.agents.run_folder import Run
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
    """``T`` steps of ``N`` environments; every tensor is ``[T, N, ...]`` on the agent's device."""

    observations: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    next_observations: torch.Tensor

    def flat(self, name: str) -> torch.Tensor:
        """``[T * N, ...]`` view of a field."""
        tensor = getattr(self, name)
        return tensor.reshape(-1, *tensor.shape[2:])


class RolloutCollector:
    """Steps ``envs`` with ``policy`` and records episodes into ``run``."""

    def __init__(
        self,
        envs,
        observations: np.ndarray,
        policy: CategoricalPolicy | GaussianPolicy,
        run: Run,
        device: torch.device,
        tracker: EpisodeTracker | None = None,
    ) -> None:
        self.envs = envs
        self.observations = observations
        self.policy = policy
        self.run = run
        self.device = device
        self.num_envs = envs.num_envs
        self.tracker = tracker or EpisodeTracker(self.num_envs)

    def state(self) -> dict[str, Any]:
        """The environments mid-episode, for a checkpoint (see ``start_environments``)."""
        return {"envs": self.envs, "observations": self.observations, "tracker": self.tracker}

    def collect(self, steps: int, step: int) -> tuple[Rollout, int]:
        """``steps`` rows (``steps * N`` env steps); returns the rollout and the new step."""
        rows: dict[str, list[np.ndarray]] = {
            k: [] for k in ("obs", "actions", "rewards", "terminated", "truncated", "next_obs")
        }
        log_probs = []
        action_space = self.envs.single_action_space
        for _ in range(steps):
            check_finite("observation", self.observations, step)
            obs = torch.as_tensor(self.observations, dtype=torch.float32, device=self.device)
            with torch.no_grad():
                actions = self.policy.sample(obs)
                log_probs.append(self.policy.log_prob(obs, actions))
            next_obs, rewards, terminated, truncated, infos = self.envs.step(
                env_actions(actions, action_space)
            )
            step += self.num_envs
            check_finite("reward", rewards, step)
            for episode_return, length in self.tracker.update(rewards, terminated, truncated):
                self.run.log_episode(step, episode_return, length)
            rows["obs"].append(self.observations)
            rows["actions"].append(actions.cpu().numpy())
            rows["rewards"].append(rewards)
            rows["terminated"].append(terminated)
            rows["truncated"].append(truncated)
            rows["next_obs"].append(true_next_observations(next_obs, infos))
            self.observations = next_obs

        def stack(name: str, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.stack(rows[name]), dtype=dtype, device=self.device)

        action_dtype = torch.int64 if isinstance(action_space, spaces.Discrete) else torch.float32
        rollout = Rollout(
            observations=stack("obs", torch.float32),
            actions=stack("actions", action_dtype),
            log_probs=torch.stack(log_probs),
            rewards=stack("rewards", torch.float32),
            terminated=stack("terminated", torch.bool),
            truncated=stack("truncated", torch.bool),
            next_observations=stack("next_obs", torch.float32),
        )
        check_finite("observation", rollout.next_observations, step)
        return rollout, step
