"""Evaluation: whole episodes played with an agent's deterministic actions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from gymnasium import spaces

from drlspec.agents.environments import make_env
from drlspec.agents.interrupts import interrupt_hook

__all__ = ["evaluate_policy"]


def evaluate_policy(
    act: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    episodes: int,
    seed: int,
    stop: Callable[[], bool] | None = None,
    phase: str = "evaluation",
) -> list[float]:
    """Returns of ``episodes`` full episodes with ``act`` (batch ``[1, obs_dim]`` in, ``[1]`` out).

    The evaluation environments are seeded ``seed, seed + 1, ...`` (callers pass an offset seed,
    so evaluation never shares episodes with training). ``stop``: asked after every step; when
    it says true the evaluation is abandoned with ``KeyboardInterrupt`` (a Ctrl-C deferred by
    the run's guard). Evaluation draws no random number the training uses, so abandoning it
    leaves the training state as it was. ``phase``: the name :func:`interrupt_hook` knows it by.
    """
    env = make_env(env_id)
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
                interrupt_hook(phase)
                if stop is not None and stop():
                    raise KeyboardInterrupt
            returns.append(total)
    finally:
        env.close()
    return returns
