"""tianshou's PPO clip objective as the ``ppo_clip_objective`` contract (tianshou 2.0.1).

The objective is inline in ``PPO._update_with_batch``
(``tianshou/algorithm/modelfree/ppo.py`` lines 187-196); the adapter transcribes those
lines with ``dual_clip = None`` (the default) and returns ``-clip_loss`` (tianshou
minimises the loss, the contract's objective is maximised). ``advantage_normalization``
(default True, lines 184-186) normalises the advantages per minibatch before these lines;
the contract takes the advantages as they are, so the adapter leaves it out.
"""

from __future__ import annotations

import torch

from peers.checks import Check

__all__ = ["ppo_clip_objective"]


def ppo_clip_objective(log_prob_new, log_prob_old, advantages, clip_eps):
    """``ppo.py`` lines 187-196 on ``[B]`` log-probabilities (one action dimension)."""
    ratios = (log_prob_new - log_prob_old).exp().float()
    ratios = ratios.reshape(ratios.size(0), -1).transpose(0, 1)
    surr1 = ratios * advantages
    surr2 = ratios.clamp(1.0 - clip_eps, 1.0 + clip_eps) * advantages
    clip_loss = -torch.min(surr1, surr2).mean()
    return -clip_loss


CHECKS = [
    Check("ppo_clip_objective", "peers.tianshou_policy:ppo_clip_objective"),
]
