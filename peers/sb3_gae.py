"""stable-baselines3's GAE (``RolloutBuffer.compute_returns_and_advantage``) as ``gae``.

SB3 does not take ``next_values`` or ``truncated``. Its conventions, which this
adapter reproduces from ``OnPolicyAlgorithm.collect_rollouts`` (SB3 2.x):

* ``V(s_{t+1})`` is read from the rollout: ``values[t + 1]`` inside the
  batch and ``last_values`` (the value of the observation after the last
  step) for the last row. This adapter passes ``next_values[T - 1]`` as
  ``last_values``; ``next_values[t]`` for ``t < T - 1`` has no counterpart in
  SB3 and is only used at time limits (below).
* Episode ends arrive as ``episode_starts[t + 1] = done_t`` with
  ``done = terminated or truncated`` (the VecEnv's single flag), and as
  ``dones`` for the last row. Both zero the bootstrap and cut the trace.
* A time limit is handled before the buffer sees it: where the VecEnv's info
  says ``TimeLimit.truncated`` (``truncated and not terminated``), the reward
  becomes ``r_t + gamma * V(terminal_observation)``, i.e. here
  ``r_t + gamma * next_values[t]``.
* The buffer stores everything in float32.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer

from peers.checks import Check

__all__ = ["gae", "rollout_buffer"]


def rollout_buffer(steps: int, envs: int, gamma: float, lam: float) -> RolloutBuffer:
    """An empty SB3 buffer for ``steps`` x ``envs`` (the spaces are placeholders: GAE reads
    only rewards, values and episode starts)."""
    return RolloutBuffer(
        steps,
        spaces.Box(-1.0, 1.0, (1,), dtype=np.float32),
        spaces.Discrete(2),
        device="cpu",
        gae_lambda=lam,
        gamma=gamma,
        n_envs=envs,
    )


def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    steps, envs = rewards.shape
    terminated = terminated.bool().cpu().numpy()
    truncated = truncated.bool().cpu().numpy()
    dones = terminated | truncated
    rewards = rewards.detach().cpu().numpy().astype(np.float32)
    values = values.detach().cpu().double()
    next_values = next_values.detach().cpu().double()

    buffer = rollout_buffer(steps, envs, gamma, lam)
    observation = np.zeros((envs, 1), dtype=np.float32)
    action = np.zeros((envs, 1), dtype=np.int64)
    log_prob = torch.zeros(envs)
    episode_start = np.zeros(envs, dtype=bool)  # irrelevant for step 0
    for t in range(steps):
        # collect_rollouts: ``rewards[idx] += self.gamma * terminal_value`` at a time limit.
        time_limit = truncated[t] & ~terminated[t]
        reward = rewards[t].copy()
        reward[time_limit] += (gamma * next_values[t].numpy()[time_limit]).astype(np.float32)
        buffer.add(observation, action, reward, episode_start, values[t].reshape(-1, 1), log_prob)
        episode_start = dones[t]
    buffer.compute_returns_and_advantage(last_values=next_values[-1], dones=dones[-1])
    return torch.from_numpy(buffer.advantages.copy())


CHECKS = [
    Check(
        "gae",
        "peers.sb3_gae:gae",
        frozenset(
            {
                "test_matches_double_sum",
                "test_lam_zero_is_td_error",
                "test_long_rollouts_match_recursion",
            }
        ),
        "differs on purpose: V(s_{t+1}) is values[t+1] inside an episode",
    ),
]
