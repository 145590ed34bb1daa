"""stable-baselines3's one-step targets (SB3 2.9.2), transcribed from the training loops.

SB3 has no target function: each algorithm builds its target inline in ``train``.
These adapters transcribe those lines unchanged, with the replay buffer's sample
(``replay_data``) and the target networks' outputs replaced by the contract's arrays:

* ``dqn_target``: ``DQN.train`` (``stable_baselines3/dqn/dqn.py``, lines 201-211).
* ``td_target``: ``TD3.train`` (``stable_baselines3/td3/td3.py``, lines 173 and
  182-184; ``SAC.train`` lines 258-263 are the same line after subtracting the
  entropy term), with ``next_values`` as the only critic.

Conventions, as the buffer hands them to ``train``:

* ``ReplayBuffer`` stores rewards and dones as float32 and returns them as
  ``[B, 1]`` (``buffers.py`` lines 223-228); the target networks are float32. The
  adapters cast the same way.
* ``replay_data.dones`` is ``done * (1 - timeout)`` (``buffers.py`` line 322,
  ``handle_timeout_termination=True``, the default): a time limit is not a
  termination. That is the contract's ``terminated``, which the adapters pass as
  ``dones`` (the contracts have no truncation flag to drop).
* With 1-step replay ``replay_data.discounts`` is ``None`` and the discount is
  ``self.gamma``, a Python float.
"""

from __future__ import annotations

import numpy as np
import torch as th

from peers.checks import Check

__all__ = ["dqn_target", "td_target"]


def _as_buffer_column(array: th.Tensor) -> th.Tensor:
    """What ``ReplayBuffer.sample`` returns for a stored column: float32, ``[B, 1]``."""
    return th.tensor(np.asarray(array.detach().cpu().numpy(), dtype=np.float32)).reshape(-1, 1)


def dqn_target(
    rewards: th.Tensor, next_q_target: th.Tensor, terminated: th.Tensor, gamma: float
) -> th.Tensor:
    rewards = _as_buffer_column(rewards)
    dones = _as_buffer_column(terminated.float())
    discounts = gamma
    with th.no_grad():
        # stands for self.q_net_target(replay_data.next_observations): a float32 network
        next_q_values = next_q_target.detach().cpu().float()
        # DQN.train lines 207-211
        next_q_values, _ = next_q_values.max(dim=1)
        next_q_values = next_q_values.reshape(-1, 1)
        target_q_values = rewards + (1 - dones) * discounts * next_q_values
    return target_q_values.reshape(-1)


def td_target(
    rewards: th.Tensor, next_values: th.Tensor, terminated: th.Tensor, gamma: float
) -> th.Tensor:
    rewards = _as_buffer_column(rewards)
    dones = _as_buffer_column(terminated.float())
    discounts = gamma
    with th.no_grad():
        # TD3.train lines 182-184, with one critic: the min over critics is its value
        next_q_values = th.cat([next_values.detach().cpu().float().reshape(-1, 1)], dim=1)
        next_q_values, _ = th.min(next_q_values, dim=1, keepdim=True)
        target_q_values = rewards + (1 - dones) * discounts * next_q_values
    return target_q_values.reshape(-1)


CHECKS = [
    Check("dqn_target", "peers.sb3_targets:dqn_target"),
    Check("td_target", "peers.sb3_targets:td_target"),
]
