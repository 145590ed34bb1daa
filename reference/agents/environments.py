"""Training environments: construction, the true next observation, the spaces an agent takes.

* :func:`make_env`: ``gym.make``, with an unknown id or a missing optional dependency (Box2D,
  MuJoCo, ...) reported as a :class:`drlspec.agents.config.ConfigError` naming the environment.
* :func:`make_vector_env`: gymnasium >= 1.0 ``SyncVectorEnv`` in ``AutoresetMode.SAME_STEP``.
  When a sub-environment's episode ends, ``step`` already returns the first observation of the
  next episode, and the true last observation is in ``infos["final_obs"]`` (mask
  ``infos["_final_obs"]``). :func:`true_next_observations` puts it back, so a transition
  ``(s, a, r, s')`` always holds the real ``s'``: a *truncated* step bootstraps from ``V(s')``
  of that observation, never of the reset one. (The default ``NEXT_STEP`` mode would instead
  return one extra step whose action is ignored; SAME_STEP keeps one row per real transition.)
* :func:`start_environments`: fresh seeded environments, or those a checkpoint pickled
  mid-episode, with their :class:`EpisodeTracker`.
* :func:`check_spaces`: observations must be a flat ``Box``; actions ``Discrete`` or, for
  agents that support it, a flat ``Box``. Anything else is a
  :class:`drlspec.agents.config.ConfigError` naming the space, before any training.

Seed: 1、DQN / :two: 算法流程 and 2、策略梯度 / :two: REINFORCE / 主要代码 (the seed's loops use
gym's old single ``done`` flag; here ``terminated`` and ``truncated`` stay apart).
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from drlspec.agents.config import BaseConfig, ConfigError
from drlspec.collection import CollectorCarry, true_next_observations

__all__ = [
    "EpisodeTracker",
    "check_spaces",
    "make_env",
    "make_vector_env",
    "start_environments",
    "true_next_observations",
]


def make_env(env_id: str) -> gym.Env:
    """``gym.make(env_id)``; an unknown id, or an environment whose optional dependency is not
    installed, is a one-line :class:`ConfigError` naming it (and gymnasium's advice on what to
    install, e.g. ``pip install "gymnasium[box2d]"``)."""
    try:
        gym.spec(env_id)
    except gym.error.Error as error:
        raise ConfigError(f"unknown environment id {env_id!r} ({error})") from None
    try:
        return gym.make(env_id)
    except (gym.error.DependencyNotInstalled, ImportError) as error:
        advice = " ".join(str(error).split())  # one line, whatever gymnasium's text holds
        extra = _gymnasium_extra(env_id)
        if extra is not None and f"gymnasium[{extra}]" not in advice:
            advice += f'; install it with pip install "gymnasium[{extra}]"'
        raise ConfigError(
            f"environment {env_id!r} needs an optional dependency that is not installed: {advice}"
        ) from None


GYMNASIUM_EXTRAS = {
    "box2d": "box2d",
    "mujoco": "mujoco",
    "toy_text": "toy-text",
    "classic_control": "classic-control",
}
"""gymnasium's pip extra for each family of its built-in environments."""


def _gymnasium_extra(env_id: str) -> str | None:
    """The gymnasium extra of a built-in environment family (``box2d``, ``mujoco``, ...)."""
    entry_point = gym.spec(env_id).entry_point
    if not isinstance(entry_point, str) or not entry_point.startswith("gymnasium.envs."):
        return None
    family = entry_point.removeprefix("gymnasium.envs.").split(".")[0].split(":")[0]
    return GYMNASIUM_EXTRAS.get(family)


def make_vector_env(
    env_id: str, num_envs: int, seed: int, autoreset_mode: str = "same_step"
) -> tuple[SyncVectorEnv, np.ndarray]:
    """``num_envs`` copies of ``env_id`` in the given autoreset mode (``"same_step"`` or
    ``"next_step"``), reset with seeds ``seed, seed + 1, ...`` and action spaces seeded
    likewise. Returns ``(envs, first obs)``.

    An unknown id or a missing optional dependency is a :class:`ConfigError` (:func:`make_env`).
    """
    if autoreset_mode not in AUTORESET_MODES:
        raise ConfigError(
            f"autoreset_mode must be one of {sorted(AUTORESET_MODES)}, got {autoreset_mode!r}"
        )
    envs = SyncVectorEnv(
        [functools.partial(make_env, env_id) for _ in range(num_envs)],
        autoreset_mode=AUTORESET_MODES[autoreset_mode],
    )
    observations, _ = envs.reset(seed=[seed + i for i in range(num_envs)])
    envs.action_space.seed(seed)
    for i, sub in enumerate(envs.envs):
        sub.action_space.seed(seed + i)
    return envs, observations


AUTORESET_MODES = {"same_step": AutoresetMode.SAME_STEP, "next_step": AutoresetMode.NEXT_STEP}


def start_environments(
    config: BaseConfig, num_envs: int, resume: dict[str, Any] | None
) -> tuple[SyncVectorEnv, CollectorCarry, EpisodeTracker, int]:
    """Fresh seeded environments at step 0, or those pickled in a checkpoint, mid-episode.

    Returns ``(envs, where collection continues, episode tracker, step)``.
    """
    if resume is None:
        envs, observations = make_vector_env(
            config.env_id, num_envs, config.seed, config.autoreset_mode
        )
        carry = CollectorCarry(observations, np.zeros(num_envs, dtype=bool))
        return envs, carry, EpisodeTracker(num_envs), 0
    carry = CollectorCarry(
        resume["observations"], resume.get("episode_ended", np.zeros(num_envs, dtype=bool))
    )
    return resume["envs"], carry, resume["tracker"], int(resume["step"])


def check_spaces(
    observation_space: gym.Space, action_space: gym.Space, algorithm: str, continuous: bool
) -> None:
    """Observations: a 1-D ``Box``; actions: ``Discrete`` (or a 1-D ``Box`` if ``continuous``)."""
    if not (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1):
        raise ConfigError(
            f"{algorithm} needs a flat Box observation space, got {observation_space}"
        )
    if isinstance(action_space, spaces.Discrete):
        if action_space.start != 0:
            raise ConfigError(
                f"{algorithm} needs Discrete actions starting at 0, got {action_space}"
            )
        return
    if continuous and isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
            raise ConfigError(f"{algorithm} needs a bounded Box action space, got {action_space}")
        return
    wanted = "Discrete or a flat Box" if continuous else "Discrete"
    raise ConfigError(f"{algorithm} needs a {wanted} action space, got {action_space}")


class EpisodeTracker:
    """Per-environment running return and length; reports each finished episode."""

    def __init__(self, num_envs: int) -> None:
        self.returns = np.zeros(num_envs, np.float64)
        self.lengths = np.zeros(num_envs, np.int64)

    def update(
        self,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        valid: np.ndarray | None = None,
    ) -> list[tuple[float, int]]:
        """Add one step; return ``(return, length)`` of every episode that just ended.

        ``valid`` (``[N]`` bool, default all): environments whose row is a transition; a
        next-step reset row (:func:`drlspec.collection.collect_transitions`) is not counted.
        """
        if valid is not None and not np.all(valid):
            rewards = np.where(valid, rewards, 0.0)
            self.lengths += np.asarray(valid, dtype=np.int64)
            self.returns += rewards
        else:
            self.returns += rewards
            self.lengths += 1
        finished = []
        for i in np.flatnonzero(np.logical_or(terminated, truncated)):
            finished.append((float(self.returns[i]), int(self.lengths[i])))
            self.returns[i] = 0.0
            self.lengths[i] = 0
        return finished
