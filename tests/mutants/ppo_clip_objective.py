"""Wrong PPO clipped surrogate objectives."""

import torch


def _ratio(log_prob_new, log_prob_old):
    return torch.exp(log_prob_new - log_prob_old)


def max_instead_of_min(log_prob_new, log_prob_old, advantages, clip_eps):
    """Takes the optimistic ``max`` of the clipped and unclipped terms: the bound that was
    meant to stop large policy steps now rewards them."""
    ratio = _ratio(log_prob_new, log_prob_old)
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return torch.maximum(ratio * advantages, clipped * advantages).mean()


def clips_advantage_not_ratio(log_prob_new, log_prob_old, advantages, clip_eps):
    """Clips the advantage to ``[1-eps, 1+eps]`` instead of the probability ratio."""
    ratio = _ratio(log_prob_new, log_prob_old)
    clipped = ratio * torch.clamp(advantages, 1 - clip_eps, 1 + clip_eps)
    return torch.minimum(ratio * advantages, clipped).mean()


def ratio_of_log_probs(log_prob_new, log_prob_old, advantages, clip_eps):
    """Divides the log-probabilities (``new / old``) as if they were probabilities."""
    ratio = log_prob_new / log_prob_old
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return torch.minimum(ratio * advantages, clipped * advantages).mean()


def upper_clip_only(log_prob_new, log_prob_old, advantages, clip_eps):
    """Clips the ratio only from above (``clamp(max=1+eps)``): for negative advantages the
    ratio can collapse towards 0 without limit."""
    ratio = _ratio(log_prob_new, log_prob_old)
    clipped = torch.clamp(ratio, max=1 + clip_eps)
    return torch.minimum(ratio * advantages, clipped * advantages).mean()


def sum_instead_of_mean(log_prob_new, log_prob_old, advantages, clip_eps):
    """Sums over the batch: the step size grows with the minibatch size."""
    ratio = _ratio(log_prob_new, log_prob_old)
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return torch.minimum(ratio * advantages, clipped * advantages).sum()


def clipped_term_only(log_prob_new, log_prob_old, advantages, clip_eps):
    """Drops the ``min`` and keeps only the clipped term: outside the clip range the
    gradient vanishes even where moving back towards ``rho = 1`` should be rewarded."""
    ratio = _ratio(log_prob_new, log_prob_old)
    return (torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages).mean()


def ratio_inverted(log_prob_new, log_prob_old, advantages, clip_eps):
    """``exp(old - new)``: the importance weight of the wrong policy."""
    ratio = torch.exp(log_prob_old - log_prob_new)
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return torch.minimum(ratio * advantages, clipped * advantages).mean()
