"""tianshou's return and target functions as the ``gae``, ``discounted_returns``,
``td_target``, ``dqn_target`` and ``double_dqn_target`` contracts (tianshou 2.0.1).

tianshou computes these from its replay buffer; the adapters call the static methods
of ``tianshou.algorithm.algorithm_base.Algorithm`` unchanged:

* ``compute_episodic_return(batch, buffer, indices, v_s_, v_s, gamma, gae_lambda)``
  (``algorithm_base.py`` lines 654-720) masks ``v_s_`` with ``~buffer.terminated``, ends
  each trace at ``terminated or truncated`` and at ``buffer.unfinished_index()`` (the last
  step of each environment's unfinished episode), and runs the numba kernel ``_gae``:
  the contract's GAE. With ``v_s_ = None`` and ``gae_lambda = 1`` its docstring
  promises the discounted reward-to-go.
* ``compute_nstep_return(batch, buffer, indices, target_q_fn, gamma, n_step)`` (lines
  722-818) with ``n_step = 1``: ``r + gamma * (1 - terminated) * target_q_fn(...)``,
  the one-step target. ``DQN._target_q`` (``algorithm/modelfree/dqn.py`` lines 365-379)
  makes ``target_q_fn`` from the networks; its selection lines are transcribed below.

The buffer is :class:`_Buffer`, a stand-in with the members these two methods read, filled
as a ``VectorReplayBuffer`` of ``N`` sub-buffers is after the ``Collector`` added the
rollout step by step (environment ``n``'s steps at ``n * T .. n * T + T - 1``, the order of
``buffer.sample(0)``). A real ``VectorReplayBuffer`` gives the same answers
(``peers/run.py`` does not check that; it was checked by hand on small rollouts) but takes
about 2 ms per ``add``, 8 s for a 4096 x 64 rollout: too slow for the suite's time limit.
"""

from __future__ import annotations

import numpy as np
import torch
from tianshou.algorithm.algorithm_base import Algorithm
from tianshou.data import Batch

from peers.checks import Check

__all__ = ["discounted_returns", "double_dqn_target", "dqn_target", "gae", "td_target"]


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


class _Buffer:
    """What ``compute_episodic_return`` and ``compute_nstep_return`` read of a buffer
    (``n_step = 1``): ``terminated``, ``done``, ``rew`` and ``unfinished_index()``."""

    def __init__(self, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray):
        # [T, N] -> environment by environment, each one's steps in time order
        self.rew = rewards.T.reshape(-1)
        self.terminated = terminated.T.reshape(-1).astype(bool)
        self.truncated = truncated.T.reshape(-1).astype(bool)
        self.done = self.terminated | self.truncated
        steps, envs = rewards.shape
        self._last = np.arange(envs) * steps + steps - 1

    def unfinished_index(self) -> np.ndarray:
        """``ReplayBufferManager.unfinished_index``: each sub-buffer's last index, where
        that step did not end its episode."""
        return self._last[~self.done[self._last]]

    def sample(self) -> tuple[Batch, np.ndarray]:
        """``buffer.sample(0)``: every transition, in storage order."""
        indices = np.arange(len(self.rew))
        batch = Batch(rew=self.rew, terminated=self.terminated, truncated=self.truncated)
        return batch, indices


def _flat(x: torch.Tensor) -> np.ndarray:
    return _numpy(x).T.reshape(-1)


def _to_contract(flat: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    steps, envs = like.shape
    return torch.from_numpy(np.ascontiguousarray(flat.reshape(envs, steps).T)).to(like.device)


def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """``Algorithm.compute_episodic_return`` with the critic's ``V(s)`` and ``V(s')``
    as ``A2C._add_returns_and_advantages`` passes them (flat, in the batch's order)."""
    buffer = _Buffer(_numpy(rewards), _numpy(terminated), _numpy(truncated))
    batch, indices = buffer.sample()
    _returns, advantages = Algorithm.compute_episodic_return(
        batch, buffer, indices, _flat(next_values), _flat(values), gamma=gamma, gae_lambda=lam
    )
    return _to_contract(advantages, rewards)


def discounted_returns(rewards, dones, gamma):
    """``Algorithm.compute_episodic_return`` with ``v_s_ = None`` and ``gae_lambda = 1``
    (``dones`` as ``terminated``: nothing is bootstrapped either way)."""
    dones = _numpy(dones)
    buffer = _Buffer(_numpy(rewards), dones, np.zeros_like(dones))
    batch, indices = buffer.sample()
    returns, _advantages = Algorithm.compute_episodic_return(
        batch, buffer, indices, None, None, gamma=gamma, gae_lambda=1.0
    )
    return _to_contract(returns, rewards)


def _one_step(rewards, terminated, gamma, target_q_fn):
    """``Algorithm.compute_nstep_return`` with ``n_step = 1`` on the ``B`` transitions;
    ``target_q_fn(buffer, indices)`` gives the target of ``obs_next``."""
    terminated = _numpy(terminated)[None]
    buffer = _Buffer(_numpy(rewards)[None], terminated, np.zeros_like(terminated))
    batch, indices = buffer.sample()
    batch = Algorithm.compute_nstep_return(
        batch, buffer, indices, target_q_fn, gamma=gamma, n_step=1
    )
    return batch.returns.reshape(rewards.shape)


def td_target(rewards, next_values, terminated, gamma):
    """``compute_nstep_return`` (``n_step = 1``) with ``V(s')`` as the target function."""
    return _one_step(rewards, terminated, gamma, lambda _buffer, i: next_values[i])


def dqn_target(rewards, next_q_target, terminated, gamma):
    """``DQN._target_q`` with ``is_double = False`` (``target_q.max(dim=1)[0]``)."""
    return _one_step(rewards, terminated, gamma, lambda _buffer, i: next_q_target[i].max(dim=1)[0])


def double_dqn_target(rewards, next_q_online, next_q_target, terminated, gamma):
    """``DQN._target_q`` with ``is_double = True``: the online network's action
    (``DiscreteQLearningPolicy.forward``: ``q.argmax(dim=1)``, no action mask) read from
    the target network's values (``target_q[np.arange(len(act)), act]``)."""

    def target_q_fn(_buffer, i):
        act = next_q_online[i].argmax(dim=1).cpu().numpy()
        target_q = next_q_target[i]
        return target_q[np.arange(len(act)), act]

    return _one_step(rewards, terminated, gamma, target_q_fn)


CHECKS = [
    Check("gae", "peers.tianshou_returns:gae"),
    Check("discounted_returns", "peers.tianshou_returns:discounted_returns"),
    Check("td_target", "peers.tianshou_returns:td_target"),
    Check("dqn_target", "peers.tianshou_returns:dqn_target"),
    Check("double_dqn_target", "peers.tianshou_returns:double_dqn_target"),
]


def _compile() -> None:
    """Compile tianshou's numba kernels for both float dtypes now, at import, not inside
    the first timed call (as ``SegmentTree._compile`` and ``ReplayBufferManager._compile``
    do for theirs)."""
    for dtype in (torch.float32, torch.float64):
        x, flag = torch.zeros(2, 1, dtype=dtype), torch.zeros(2, 1, dtype=torch.bool)
        gae(x, x, x, flag, flag, 0.5, 0.5)
        discounted_returns(x, flag, 0.5)
        td_target(x[:, 0], x[:, 0], flag[:, 0], 0.5)


_compile()
