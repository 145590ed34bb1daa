"""Evaluation: whole episodes played with an agent's deterministic actions."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["evaluate_policy"]


def evaluate_policy(
    act: Callable[[np.ndarray], np.ndarray], env_id: str, episodes: int, seed: int
) -> list[float]:
    """Returns of ``episodes`` full episodes with ``act`` (batch ``[1, obs_dim]`` in, ``[1]`` out).

    The evaluation environments are seeded ``seed, seed + 1, ...`` (callers pass an offset seed,
    so evaluation never shares episodes with training).
    """
    env = gym.make(env_id)
    returns = []
    try:
        for episode in range(episodes):
            observation, _ = env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                action = act(observation[None])[0]
                if isinstance(env.action_space, spaces.Box):
                    action = np.clip(action, env.action_space.low, env.action_space.high)
                observation, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return returns
