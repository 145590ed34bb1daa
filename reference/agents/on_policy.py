"""What the on-policy agents (REINFORCE, Actor-Critic, TRPO, PPO) share.

* :class:`PolicyAgent`: a policy head (:class:`drlspec.policies.CategoricalPolicy` for
  ``Discrete`` actions, :class:`drlspec.policies.GaussianPolicy` for a ``Box``) and a value
  network :class:`drlspec.policies.ValueNetwork`; it acts by the mode (argmax or the mean).
* :func:`advantages_and_returns`: GAE advantages (:func:`drlspec.returns.gae`) and value
  targets ``A + V`` of one rollout, ``V(s_{t+1})`` of the *true* next observation (a
  truncated step bootstraps, a terminated one does not).
* :func:`standardise`: zero mean, unit standard deviation (advantage normalisation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from drlspec.agents.environments import check_spaces
from drlspec.agents.rollout import ACTIVATIONS, Rollout, build_policy
from drlspec.policies import ValueNetwork
from drlspec.returns import gae

__all__ = ["PolicyAgent", "advantages_and_returns", "standardise"]


class PolicyAgent:
    """A policy head and a value network; acts by the mode (argmax or the Gaussian mean)."""

    def __init__(self, config: Any, observation_space: spaces.Box, action_space: spaces.Space):
        check_spaces(observation_space, action_space, type(config).__module__, continuous=True)
        if config.activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu', got {config.activation!r}")
        self.device = torch.device(config.device)
        self.action_space = action_space
        self.policy = build_policy(
            observation_space,
            action_space,
            config.hidden_sizes,
            config.activation,
            config.log_std_init,
        ).to(self.device)
        self.value = ValueNetwork(
            int(observation_space.shape[0]),
            config.hidden_sizes,
            ACTIVATIONS[config.activation],
        ).to(self.device)

    @torch.no_grad()
    def act(self, observations: np.ndarray) -> np.ndarray:
        """Deterministic actions: the most probable one, or the Gaussian mean."""
        obs = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        outputs = self.policy(obs)
        if isinstance(self.action_space, spaces.Discrete):
            return outputs.argmax(dim=1).cpu().numpy()
        return outputs[0].cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "value": self.value.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])


def advantages_and_returns(
    agent: PolicyAgent, rollout: Rollout, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE advantages ``[T, N]`` and value targets ``A + V`` from one rollout."""
    steps, envs = rollout.rewards.shape
    with torch.no_grad():
        values = agent.value(rollout.flat("observations")).reshape(steps, envs)
        next_values = agent.value(rollout.flat("next_observations")).reshape(steps, envs)
    advantages = gae(
        rollout.rewards, values, next_values, rollout.terminated, rollout.truncated, gamma, lam
    )
    return advantages, advantages + values


def standardise(x: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / (std + 1e-8)``; fewer than two values are returned as they are."""
    if x.numel() < 2:
        return x
    return (x - x.mean()) / (x.std() + 1e-8)
