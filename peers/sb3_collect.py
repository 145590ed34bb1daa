"""stable-baselines3's on-policy collection (SB3 2.9.2) as ``collect_transitions``.

:func:`collect_rollouts` runs SB3's own ``OnPolicyAlgorithm.collect_rollouts``
(``stable_baselines3/common/on_policy_algorithm.py`` lines 162-268), unchanged, on SB3's
own ``DummyVecEnv`` (``common/vec_env/dummy_vec_env.py``) and ``RolloutBuffer``
(``common/buffers.py``). Only ``self`` is a stand-in: it has what the method reads (the
policy, ``_last_obs``, ``_last_episode_starts``, ``gamma``, ``num_timesteps``, the info
buffers) and nothing else, so no learner is built. The lines that decide what is stored:

* ``new_obs, rewards, dones, infos = env.step(clipped_actions)`` (line 218), where
  ``DummyVecEnv.step_wait`` (lines 56-73) steps each sub-environment, sets ``dones =
  terminated or truncated`` and ``infos["TimeLimit.truncated"] = truncated and not
  terminated`` (line 66), and at an episode's end keeps the last observation in
  ``infos["terminal_observation"]`` and resets at once (lines 68-71: the same-step
  autoreset, SB3's own);
* lines 236-245: at a time-limit end, ``rewards[idx] += self.gamma * terminal_value``
  with ``terminal_value = predict_values(terminal_observation)``: the truncated step's
  bootstrap is folded into its reward, and the terminal observation is not kept;
* lines 247-256: ``rollout_buffer.add(self._last_obs, actions, rewards,
  self._last_episode_starts, values, log_probs)``, then ``self._last_obs = new_obs`` and
  ``self._last_episode_starts = dones``;
* the first call, ``BaseAlgorithm._setup_learn`` (``base_class.py`` lines 423-424):
  ``self._last_obs = self.env.reset()``, ``self._last_episode_starts = ones``.

The buffer then learns through ``compute_returns_and_advantage`` (``buffers.py`` lines
404-441), which reads step ``t``'s successor as row ``t + 1`` (``values[step + 1]``,
``_last_obs`` after the last row) and its end as ``episode_starts[step + 1]``
(``dones`` after the last row), as "does not bootstrap". So what SB3 *keeps*, on the
contract's layout: ``observations``, ``actions``, ``rewards`` (with the folded bootstrap),
``next_observations[t] = observations[t + 1]`` (``_last_obs`` after the last row),
``terminated[t] = episode_starts[t + 1]`` (``dones``: termination or truncation, the
truncation's bootstrap being in the reward), ``truncated`` false (nothing else is kept),
``valid`` true (SB3 has no reset steps). The carry is ``self`` and the ``DummyVecEnv``.

:func:`dummy_vec_env_step` records what ``DummyVecEnv.step`` hands ``collect_rollouts``
(before the buffer): ``next_observations`` the ``terminal_observation`` at an episode's
end, else the returned observation; ``truncated = infos["TimeLimit.truncated"]``;
``terminated = dones and not truncated``. That is the information SB3 has in hand.

The environment. SB3 takes only its own ``VecEnv``; it has no wrapper for a gymnasium
``VectorEnv`` (SB3 issue #1745, "Support VecEnv for gymnasium.vector.VectorEnv", closed),
and ``make_vec_env`` builds a ``DummyVecEnv`` from single environments. The adapters do
the same with the ``SyncVectorEnv``'s own sub-environments (``envs.envs``), the single
environments the contract's vector environment steps: SB3 then steps them and resets them
itself (same step), so the ``VectorEnv``'s autoreset mode is not used. In ``NEXT_STEP``
examples no reset step happens at all: SB3's rows are the ``SAME_STEP`` sequence.

The critic. ``self.policy(obs)`` (line 202) returns SB3's actions, values and
log-probabilities; here actions are ``act(obs)`` (``Box`` actions clipped to the space at
line 216, a no-op for actions inside it) and the critic is ``V(s) = 1`` (the contract has
none; any non-zero value makes the folded bootstrap visible), ``gamma = 0.99`` (SB3's PPO
default).
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BaseModel
from stable_baselines3.common.vec_env import DummyVecEnv

from peers.checks import Check
from peers.cleanrl_collect import SAME_STEP_RESET_OBS_AS_NEXT, in_one_mode

__all__ = [
    "collect_rollouts",
    "collect_rollouts_same_step_only",
    "dummy_vec_env_step",
    "dummy_vec_env_step_same_step_only",
]

GAMMA = 0.99  # PPO's default (ppo/ppo.py)
CRITIC_VALUE = 1.0


def _identity(env: Any) -> Any:
    return env


def _dummy_vec_env(envs: Any) -> DummyVecEnv:
    """SB3's ``DummyVecEnv`` over the ``SyncVectorEnv``'s sub-environments (docstring)."""
    return DummyVecEnv([functools.partial(_identity, env) for env in envs.envs])


class _Policy:
    """What ``collect_rollouts`` calls on ``self.policy``: ``act`` and a constant critic."""

    squash_output = False
    obs_to_tensor = BaseModel.obs_to_tensor  # SB3's own (policies.py lines 236-277)

    def __init__(self, act: Callable[[Any], Any], observation_space: spaces.Space) -> None:
        self.act = act
        self.observation_space = observation_space
        self.device = th.device("cpu")

    def set_training_mode(self, mode: bool) -> None:
        pass

    def predict_values(self, obs: th.Tensor) -> th.Tensor:
        return th.full((obs.shape[0], 1), CRITIC_VALUE)

    def __call__(self, obs: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        actions = th.as_tensor(np.asarray(self.act(obs)))
        return actions, self.predict_values(obs), th.zeros(obs.shape[0])


class _Callback:
    """``BaseCallback``'s hooks as ``collect_rollouts`` calls them; continues always."""

    def on_rollout_start(self) -> None:
        pass

    def update_locals(self, locals_: dict[str, Any]) -> None:
        pass

    def on_step(self) -> bool:
        return True

    def on_rollout_end(self) -> None:
        pass


class SB3Carry:
    """The stand-in for the algorithm: what ``collect_rollouts`` reads and writes on ``self``.

    It is also the carry: ``_last_obs`` and ``_last_episode_starts`` continue the next call,
    as they continue SB3's next rollout.
    """

    collect_rollouts = OnPolicyAlgorithm.collect_rollouts
    _update_info_buffer = BaseAlgorithm._update_info_buffer

    def __init__(self, envs: Any, act: Callable[[Any], Any]) -> None:
        self.env = _dummy_vec_env(envs)
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space
        self.policy = _Policy(act, self.observation_space)
        self.device = th.device("cpu")
        self.gamma = GAMMA
        self.use_sde = False
        self.sde_sample_freq = -1
        self.num_timesteps = 0
        self.ep_info_buffer: deque = deque(maxlen=100)
        self.ep_success_buffer: deque = deque(maxlen=100)
        # base_class.py lines 423-424 (_setup_learn)
        self._last_obs = self.env.reset()
        self._last_episode_starts = np.ones((self.env.num_envs,), dtype=bool)


def collect_rollouts(
    envs: Any, act: Callable[[Any], Any], num_steps: int, carry: SB3Carry | None = None
) -> tuple[dict[str, np.ndarray], SB3Carry]:
    model = SB3Carry(envs, act) if carry is None else carry
    model.policy.act = act
    rollout_buffer = RolloutBuffer(
        num_steps,
        model.observation_space,
        model.action_space,
        device="cpu",
        gamma=GAMMA,
        gae_lambda=0.95,
        n_envs=model.env.num_envs,
    )
    model.collect_rollouts(model.env, _Callback(), rollout_buffer, num_steps)

    # What the buffer's GAE reads as row t's successor (module docstring).
    next_observations = np.concatenate([rollout_buffer.observations[1:], model._last_obs[None]])
    ends = np.concatenate(
        [rollout_buffer.episode_starts[1:], model._last_episode_starts[None]]
    ).astype(bool)
    transitions = {
        "observations": rollout_buffer.observations,
        "actions": rollout_buffer.actions,
        "rewards": rollout_buffer.rewards,
        "next_observations": next_observations,
        "terminated": ends,
        "truncated": np.zeros_like(ends),
        "valid": np.ones_like(ends),
    }
    return transitions, model


def dummy_vec_env_step(
    envs: Any, act: Callable[[Any], Any], num_steps: int, carry: Any = None
) -> tuple[dict[str, np.ndarray], Any]:
    if carry is None:
        env = _dummy_vec_env(envs)
        last_obs = env.reset()
    else:
        env, last_obs = carry
    rows: dict[str, list[np.ndarray]] = {}

    def record(name: str, value: np.ndarray) -> None:
        rows.setdefault(name, []).append(np.array(value, copy=True))

    for _ in range(num_steps):
        actions = np.asarray(act(last_obs))
        new_obs, rewards, dones, infos = env.step(actions)
        # What collect_rollouts reads of infos (lines 236-245), for every end.
        truncated = np.array([info.get("TimeLimit.truncated", False) for info in infos])
        next_obs = np.array(new_obs, copy=True)
        for idx, done in enumerate(dones):
            if done and infos[idx].get("terminal_observation") is not None:
                next_obs[idx] = infos[idx]["terminal_observation"]
        record("observations", last_obs)
        record("actions", actions)
        record("rewards", rewards)
        record("next_observations", next_obs)
        record("terminated", dones & ~truncated)
        record("truncated", truncated)
        record("valid", np.ones_like(dones))
        last_obs = new_obs
    return {name: np.stack(values) for name, values in rows.items()}, (env, last_obs)


def collect_rollouts_same_step_only(
    envs: Any, act: Callable[[Any], Any], num_steps: int, carry: Any = None
) -> tuple[Any, Any]:
    """:func:`collect_rollouts` on ``SAME_STEP`` examples only (the rows SB3 produces)."""
    return in_one_mode("SameStep", collect_rollouts, envs, act, num_steps, carry)


def dummy_vec_env_step_same_step_only(
    envs: Any, act: Callable[[Any], Any], num_steps: int, carry: Any = None
) -> tuple[Any, Any]:
    """:func:`dummy_vec_env_step` on ``SAME_STEP`` examples only."""
    return in_one_mode("SameStep", dummy_vec_env_step, envs, act, num_steps, carry)


# In NEXT_STEP examples SB3 resets the sub-environments itself (same step): no reset steps.
_SB3_OWN_AUTORESET = frozenset(
    {
        "test_invalid_rows_are_exactly_the_next_step_reset_steps",
        "test_every_step_is_recorded_once_across_calls",
    }
)

CHECKS = [
    Check(
        "collect_transitions",
        "peers.sb3_collect:collect_rollouts",
        SAME_STEP_RESET_OBS_AS_NEXT | _SB3_OWN_AUTORESET,
        "buffer keeps no final observation, truncation folded into reward + done (convention);"
        " NEXT_STEP: its own same-step reset (adapter)",
    ),
    Check(
        "collect_transitions",
        "peers.sb3_collect:collect_rollouts_same_step_only",
        SAME_STEP_RESET_OBS_AS_NEXT,
        "buffer keeps no final observation, truncation folded into reward + done (convention)",
    ),
    Check(
        "collect_transitions",
        "peers.sb3_collect:dummy_vec_env_step",
        _SB3_OWN_AUTORESET,
        "NEXT_STEP: DummyVecEnv resets the sub-environments itself, same step (adapter)",
    ),
    Check("collect_transitions", "peers.sb3_collect:dummy_vec_env_step_same_step_only"),
]
