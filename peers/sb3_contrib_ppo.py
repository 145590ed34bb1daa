"""sb3-contrib's RecurrentPPO clipped objective (sb3-contrib 2.9.2) as ``ppo_clip_objective``.

``RecurrentPPO.train`` (``sb3_contrib/ppo_recurrent/ppo_recurrent.py``, lines 343 and
359-364) differs from PPO's lines in one place: the mean is taken over the steps its
padding mask marks as real (``th.mean(...[mask])``), because the recurrent buffer pads
sequences to a common length. The contract's batch has no padding, so the adapter
passes the mask the buffer produces for a batch without padding: every step real
(``rollout_data.mask`` is 1.0 there, and ``mask = rollout_data.mask > 1e-8``).
``old_log_prob`` and ``advantages`` come from the buffer as float32 tensors without a
graph, as in ``peers.sb3_policy_losses``.

MaskablePPO's lines (``sb3_contrib/ppo_mask/ppo_mask.py``, lines 352-357) are
identical to PPO's, so ``peers.sb3_policy_losses:ppo_clip_objective`` covers them.
"""

from __future__ import annotations

import torch as th

from peers.checks import Check
from peers.sb3_policy_losses import from_buffer as _from_buffer

__all__ = ["recurrent_ppo_clip_objective"]


def recurrent_ppo_clip_objective(
    log_prob_new: th.Tensor, log_prob_old: th.Tensor, advantages: th.Tensor, clip_eps: float
) -> th.Tensor:
    log_prob = log_prob_new
    old_log_prob = _from_buffer(log_prob_old)
    advantages = _from_buffer(advantages)
    clip_range = clip_eps
    rollout_mask = th.ones_like(advantages)  # no padding in the contract's batch
    # RecurrentPPO.train line 343, then lines 359-364
    mask = rollout_mask > 1e-8
    ratio = th.exp(log_prob - old_log_prob)
    policy_loss_1 = advantages * ratio
    policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
    policy_loss = -th.mean(th.min(policy_loss_1, policy_loss_2)[mask])
    return -policy_loss


CHECKS = [Check("ppo_clip_objective", "peers.sb3_contrib_ppo:recurrent_ppo_clip_objective")]
