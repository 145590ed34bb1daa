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


def ratio_from_probabilities(log_prob_new, log_prob_old, advantages, clip_eps):
    """Forms the ratio as ``exp(new) / exp(old)`` (``dist.probs`` of two policies divided):
    a quotient of subnormals or ``0/0 = nan`` once the log-probabilities fall below
    log(smallest float), -745 in float64, -104 in float32."""
    ratio = log_prob_new.exp() / log_prob_old.exp()
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    return torch.minimum(ratio * advantages, clipped * advantages).mean()


def clips_log_ratio_at_eps(log_prob_new, log_prob_old, advantages, clip_eps):
    """Clips the log-ratio to ``[-eps, eps]`` (the ratio to ``[e^-eps, e^eps]``) instead of the
    ratio to ``[1-eps, 1+eps]``: the kinks move by about ``eps^2 / 2``."""
    log_ratio = log_prob_new - log_prob_old
    ratio = log_ratio.exp()
    clipped = torch.clamp(log_ratio, -clip_eps, clip_eps).exp()
    return torch.minimum(ratio * advantages, clipped * advantages).mean()


def lower_bound_uses_eps_twice(log_prob_new, log_prob_old, advantages, clip_eps):
    """``clamp(ratio, 1 - 2*eps, 1 + eps)``: a copy-paste slip that subtracts eps twice on the
    lower side, so negative advantages are clipped too late."""
    ratio = _ratio(log_prob_new, log_prob_old)
    clipped = torch.clamp(ratio, 1 - 2 * clip_eps, 1 + clip_eps)
    return torch.minimum(ratio * advantages, clipped * advantages).mean()


def max_for_negative_advantages(log_prob_new, log_prob_old, advantages, clip_eps):
    """Takes the ``min`` for positive advantages but the ``max`` for negative ones (a sign
    confusion when "pessimistic" is written out case by case)."""
    ratio = _ratio(log_prob_new, log_prob_old)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages
    pessimistic = torch.where(
        advantages >= 0, torch.minimum(unclipped, clipped), torch.maximum(unclipped, clipped)
    )
    return pessimistic.mean()


def eps_fixed_at_default(log_prob_new, log_prob_old, advantages, clip_eps):
    """Ignores ``clip_eps`` and clips at the customary default 0.2."""
    ratio = _ratio(log_prob_new, log_prob_old)
    clipped = torch.clamp(ratio, 0.8, 1.2)
    return torch.minimum(ratio * advantages, clipped * advantages).mean()


def mean_of_block_means(log_prob_new, log_prob_old, advantages, clip_eps):
    """Averages the means of micro-batches of 32 (gradient accumulation): a short last block
    gets the weight of a full one, so the result is wrong whenever 32 does not divide B > 32."""
    ratio = _ratio(log_prob_new, log_prob_old)
    clipped = torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    terms = torch.minimum(ratio * advantages, clipped * advantages)
    return torch.stack([block.mean() for block in terms.split(32)]).mean()


def last_row_unclipped(log_prob_new, log_prob_old, advantages, clip_eps):
    """Clips every sample but the last (an off-by-one ``[:-1]`` in a hand-written loop)."""
    ratio = _ratio(log_prob_new, log_prob_old)
    clipped = torch.cat([torch.clamp(ratio[:-1], 1 - clip_eps, 1 + clip_eps), ratio[-1:]])
    return torch.minimum(ratio * advantages, clipped * advantages).mean()
