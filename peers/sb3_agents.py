"""stable-baselines3's PPO, DQN, A2C and sb3-contrib's TRPO as train functions (SB3 2.9.2,
sb3-contrib 2.9.2) for ``drlspec regress --impl ALGO=peers/sb3_agents.py:NAME``.

Each of :func:`sb3_ppo`, :func:`sb3_dqn`, :func:`sb3_a2c` and :func:`sb3_trpo` follows the
train protocol (:mod:`drlspec.external`): ``(*, env_id, seed, total_steps, device) ->
Trained``. They train as rl-baselines3-zoo's ``train.py`` does with its published
hyperparameters, :data:`ZOO`, transcribed from ``hyperparams/{ppo,dqn,a2c,trpo}.yml`` of
rl-baselines3-zoo v2.8.0 (commit ``fa5daa8``; the files are unchanged at ``22e3ff2``, the
newest commit, whose package version is 2.9.0a2), one entry per (algorithm, environment) of
the case table. Only the budget is not the zoo's: ``total_steps`` is the table's (each entry
notes the zoo's own ``n_timesteps``). What the zoo's ``ExperimentManager``
(``rl_zoo3/exp_manager.py``) does with an entry, and so what :func:`_train` does:

* ``make_vec_env(env_id, n_envs=n_envs, seed=seed)`` (``create_envs``): ``n_envs`` copies
  (1 when the entry has none, ``_preprocess_hyperparams``), each wrapped in a ``Monitor``,
  in a ``DummyVecEnv``, environment ``i`` reset with seed ``seed + i``. No entry here has an
  ``env_wrapper``, ``frame_stack`` or ``monitor_kwargs``.
* ``normalize: true`` (``_preprocess_normalization``, ``_maybe_normalize``):
  ``VecNormalize(env, gamma=gamma)`` over it, ``gamma`` the entry's when it has one
  (observations and rewards normalised, clipped at 10). The act function then normalises
  its observations with the statistics frozen at the end of training (``training=False``,
  as the zoo's ``enjoy.py`` loads them); reward normalisation does not touch acting.
* ``lin_X`` (``_preprocess_schedules``, ``rl_zoo3.utils.SimpleLinearSchedule``): the
  schedule ``progress_remaining * X``, :class:`Linear` here; ``policy_kwargs`` as the
  ``dict(...)`` the zoo evaluates.
* the model is ``ALGO(env=env, seed=seed, device=device, **hyperparameters)`` and learns
  with ``model.learn(total_timesteps=total_steps)``. On-policy algorithms collect whole
  rollouts of ``n_envs * n_steps``, so they stop at the first multiple of that at or past
  the budget (PPO on Pendulum-v1: 25 rollouts of 4096 = 102,400 steps); the reported
  episodes show it. SB3's progress then runs slightly below 0 in the last update, so
  ``lin_X`` schedules end at a tiny negative value, as in the zoo.

Seeding is SB3's: ``seed`` seeds Python, numpy and torch, the action space (DQN's
exploration) and the environments' resets. Episodes: a callback reads ``infos`` after each
vectorised step (``collect_rollouts``: ``num_timesteps`` is already advanced) and records
every ``info["episode"]`` the ``Monitor`` adds when an episode ends, ``(model.num_timesteps,
r)``: the raw return, as the ``Monitor`` sits below ``VecNormalize``. Acting is
``model.predict(observations, deterministic=True)``: the argmax of Q, the most likely
category, the Gaussian mean (with gSDE too), clipped to a ``Box`` action space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sb3_contrib import TRPO
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from drlspec.external import Trained

__all__ = ["ZOO", "Linear", "sb3_a2c", "sb3_dqn", "sb3_ppo", "sb3_trpo"]


class Linear:
    """The zoo's ``lin_X``: from ``initial`` at the start to 0 at the end of the budget
    (``rl_zoo3.utils.SimpleLinearSchedule``); SB3 calls it with ``progress_remaining``."""

    def __init__(self, initial: float) -> None:
        self.initial = initial

    def __repr__(self) -> str:
        return f"Linear({self.initial})"

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial


ZOO: dict[tuple[str, str], dict[str, Any]] = {
    # ppo.yml, CartPole-v1 ("# Tuned"); the zoo's n_timesteps 1e5.
    ("ppo", "CartPole-v1"): {
        "n_envs": 8,
        "policy": "MlpPolicy",
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": Linear(0.001),
        "clip_range": Linear(0.2),
    },
    # ppo.yml, Acrobot-v1 (not marked tuned); the zoo's n_timesteps 1e6.
    ("ppo", "Acrobot-v1"): {
        "normalize": True,
        "n_envs": 16,
        "policy": "MlpPolicy",
        "n_steps": 256,
        "gae_lambda": 0.94,
        "gamma": 0.99,
        "n_epochs": 4,
        "ent_coef": 0.0,
    },
    # ppo.yml, Pendulum-v1 ("# Tuned"); the zoo's n_timesteps 1e5.
    ("ppo", "Pendulum-v1"): {
        "n_envs": 4,
        "policy": "MlpPolicy",
        "n_steps": 1024,
        "gae_lambda": 0.95,
        "gamma": 0.9,
        "n_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
        "clip_range": 0.2,
        "use_sde": True,
        "sde_sample_freq": 4,
    },
    # dqn.yml, CartPole-v1 ("# Almost Tuned"); the zoo's n_timesteps 5e4.
    ("dqn", "CartPole-v1"): {
        "policy": "MlpPolicy",
        "learning_rate": 2.3e-3,
        "batch_size": 64,
        "buffer_size": 100_000,
        "learning_starts": 1000,
        "gamma": 0.99,
        "target_update_interval": 10,
        "train_freq": 256,
        "gradient_steps": 128,
        "exploration_fraction": 0.16,
        "exploration_final_eps": 0.04,
        "policy_kwargs": dict(net_arch=[256, 256]),
    },
    # dqn.yml, Acrobot-v1 ("# Tuned"); the zoo's n_timesteps 1e5.
    ("dqn", "Acrobot-v1"): {
        "policy": "MlpPolicy",
        "learning_rate": 6.3e-4,
        "batch_size": 128,
        "buffer_size": 50_000,
        "learning_starts": 0,
        "gamma": 0.99,
        "target_update_interval": 250,
        "train_freq": 4,
        "gradient_steps": -1,
        "exploration_fraction": 0.12,
        "exploration_final_eps": 0.1,
        "policy_kwargs": dict(net_arch=[256, 256]),
    },
    # a2c.yml, CartPole-v1 (not marked tuned); the zoo's n_timesteps 5e5.
    ("a2c", "CartPole-v1"): {
        "n_envs": 8,
        "policy": "MlpPolicy",
        "ent_coef": 0.0,
    },
    # trpo.yml, CartPole-v1 ("# Tuned"); the zoo's n_timesteps 1e5.
    ("trpo", "CartPole-v1"): {
        "n_envs": 2,
        "policy": "MlpPolicy",
        "n_steps": 512,
        "batch_size": 512,
        "cg_damping": 1e-3,
        "gae_lambda": 0.98,
        "gamma": 0.99,
        "learning_rate": 1e-3,
        "n_critic_updates": 20,
    },
    # trpo.yml, Pendulum-v1 ("# Tuned"); the zoo's n_timesteps 1e5.
    ("trpo", "Pendulum-v1"): {
        "n_envs": 2,
        "policy": "MlpPolicy",
        "n_steps": 1024,
        "gamma": 0.9,
        "n_critic_updates": 15,
        "use_sde": True,
        "sde_sample_freq": 4,
    },
}
"""rl-baselines3-zoo's hyperparameters per (algorithm, environment), as the yml files write
them (``n_timesteps`` left out: the budget is the table's). Keys not listed take SB3's
defaults, as in the zoo."""

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "dqn": DQN, "a2c": A2C, "trpo": TRPO}


class _Episodes(BaseCallback):
    """Every finished training episode as ``(model.num_timesteps, return)``."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes: list[tuple[float, float]] = []

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                self.episodes.append((float(self.num_timesteps), float(info["episode"]["r"])))
        return True


def _train(algorithm: str, env_id: str, seed: int, total_steps: int, device: str) -> Trained:
    if (algorithm, env_id) not in ZOO:
        raise ValueError(
            f"peers/sb3_agents.py has no rl-baselines3-zoo hyperparameters for "
            f"{algorithm.upper()} on {env_id}; it transcribes the case table's environments "
            f"only: {', '.join(env for algo, env in ZOO if algo == algorithm)}"
        )
    hyperparameters = dict(ZOO[algorithm, env_id])
    n_envs = hyperparameters.pop("n_envs", 1)
    normalize = hyperparameters.pop("normalize", False)

    env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    if normalize:
        # The zoo gives VecNormalize the algorithm's discount for its return statistics.
        gamma = {"gamma": hyperparameters["gamma"]} if "gamma" in hyperparameters else {}
        env = VecNormalize(env, **gamma)
    model = ALGORITHMS[algorithm](env=env, seed=seed, device=device, **hyperparameters)
    recorder = _Episodes()
    model.learn(total_timesteps=total_steps, callback=recorder)

    vec_normalize = model.get_vec_normalize_env()
    if vec_normalize is not None:
        vec_normalize.training = False
    env.close()

    def act(observations: np.ndarray) -> np.ndarray:
        observations = np.asarray(observations, dtype=np.float32)
        if vec_normalize is not None:
            observations = vec_normalize.normalize_obs(observations)
        actions, _ = model.predict(observations, deterministic=True)
        return actions

    return Trained(act=act, episodes=recorder.episodes)


def sb3_ppo(*, env_id: str, seed: int, total_steps: int, device: str) -> Trained:
    """stable-baselines3's PPO with rl-baselines3-zoo's hyperparameters for ``env_id``."""
    return _train("ppo", env_id, seed, total_steps, device)


def sb3_dqn(*, env_id: str, seed: int, total_steps: int, device: str) -> Trained:
    """stable-baselines3's DQN with rl-baselines3-zoo's hyperparameters for ``env_id``."""
    return _train("dqn", env_id, seed, total_steps, device)


def sb3_a2c(*, env_id: str, seed: int, total_steps: int, device: str) -> Trained:
    """stable-baselines3's A2C with rl-baselines3-zoo's hyperparameters for ``env_id``."""
    return _train("a2c", env_id, seed, total_steps, device)


def sb3_trpo(*, env_id: str, seed: int, total_steps: int, device: str) -> Trained:
    """sb3-contrib's TRPO with rl-baselines3-zoo's hyperparameters for ``env_id``."""
    return _train("trpo", env_id, seed, total_steps, device)
