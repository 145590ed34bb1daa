"""Correct PPO clipped objectives written differently from the reference."""

import math

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


def blocked_sum_float32(log_prob_new, log_prob_old, advantages, clip_eps):
    """Terms in float32, summed block by block (blocks of 64, a short last one) and divided by
    the batch size once."""
    ratio = torch.exp(log_prob_new.float() - log_prob_old.float())
    adv = advantages.float()
    terms = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    total = sum(block.sum() for block in terms.split(64))
    return (total / terms.shape[0]).to(log_prob_new.dtype)


def clipped_in_log_space(log_prob_new, log_prob_old, advantages, clip_eps):
    """Clips the log-ratio to ``[log(1-eps), log(1+eps)]`` (the same clip, taken before exp)."""
    log_ratio = log_prob_new - log_prob_old.detach()
    low = math.log1p(-clip_eps) if clip_eps < 1 else -math.inf
    clipped = log_ratio.clamp(low, math.log1p(clip_eps)).exp()
    adv = advantages.detach()
    return torch.minimum(log_ratio.exp() * adv, clipped * adv).mean()
