"""stable-baselines3's policy losses (SB3 2.9.2), transcribed from the training loops.

Both are inline in ``train``; the adapters transcribe the lines unchanged:

* ``ppo_clip_objective``: ``PPO.train`` (``stable_baselines3/ppo/ppo.py``, lines
  222-227). SB3 minimises ``policy_loss = -min(...).mean()``; the contract is the
  objective to maximise, so the adapter returns ``-policy_loss`` (an exact negation).
* ``policy_gradient_loss``: ``A2C.train`` (``stable_baselines3/a2c/a2c.py``, line
  159), ``policy_loss = -(advantages * log_prob).mean()``: the contract's sign.

Conventions, as ``RolloutBuffer.get`` hands the data to ``train``:

* ``advantages`` and ``old_log_prob`` come from the buffer: float32 numpy arrays
  turned into fresh tensors (``buffers.py`` lines 398-399, ``to_torch``), so they
  carry no graph. The adapters do the same; ``log_prob`` (the policy's output,
  with graph) is passed as it is.
* Advantage normalisation (``normalize_advantage``, on by default in PPO, off in
  A2C) happens before these lines and is not part of the contracts: callers of
  the contracts pass whatever advantages they mean.
* ``clip_range`` is the schedule's value, a Python float.
"""

from __future__ import annotations

import numpy as np
import torch as th

from peers.checks import Check

__all__ = ["from_buffer", "policy_gradient_loss", "ppo_clip_objective"]


def from_buffer(array: th.Tensor) -> th.Tensor:
    """A rollout-buffer column as ``train`` receives it: float32, without a graph."""
    return th.tensor(np.asarray(array.detach().cpu().numpy(), dtype=np.float32)).to(array.device)


def ppo_clip_objective(
    log_prob_new: th.Tensor, log_prob_old: th.Tensor, advantages: th.Tensor, clip_eps: float
) -> th.Tensor:
    log_prob = log_prob_new
    old_log_prob = from_buffer(log_prob_old)
    advantages = from_buffer(advantages)
    clip_range = clip_eps
    # PPO.train lines 222-227
    ratio = th.exp(log_prob - old_log_prob)
    policy_loss_1 = advantages * ratio
    policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
    policy_loss = -th.min(policy_loss_1, policy_loss_2).mean()
    return -policy_loss


def policy_gradient_loss(log_probs: th.Tensor, weights: th.Tensor) -> th.Tensor:
    log_prob = log_probs
    advantages = from_buffer(weights)
    # A2C.train line 159
    policy_loss = -(advantages * log_prob).mean()
    return policy_loss


CHECKS = [
    Check("ppo_clip_objective", "peers.sb3_policy_losses:ppo_clip_objective"),
    Check("policy_gradient_loss", "peers.sb3_policy_losses:policy_gradient_loss"),
]
