"""Correct PPO clipped objectives written differently from the reference."""

import torch


def where_branches_float32(log_prob_new, log_prob_old, advantages, clip_eps):
    """The case analysis of Schulman et al.'s Figure 1 with ``torch.where``, in float32."""
    ratio = torch.exp(log_prob_new.float() - log_prob_old.float())
    adv = advantages.float()
    upper = torch.where(ratio > 1 + clip_eps, (1 + clip_eps) * adv, ratio * adv)
    lower = torch.where(ratio < 1 - clip_eps, (1 - clip_eps) * adv, ratio * adv)
    # A > 0 can only be limited from above, A < 0 only from below.
    objective = torch.where(adv > 0, upper, lower)
    return objective.mean().to(log_prob_new.dtype)


def loss_negated(log_prob_new, log_prob_old, advantages, clip_eps):
    """Built as the usual PPO loss ``max(-rho*A, -clip(rho)*A)`` and negated back."""
    ratio = (log_prob_new - log_prob_old).exp()
    loss = torch.max(-ratio * advantages, -ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages)
    return -loss.mean()
