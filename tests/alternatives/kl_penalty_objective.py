"""Correct KL-penalised objectives written differently from the reference."""

import torch


def two_means_float32(log_prob_new, log_prob_old, advantages, kl, beta):
    """Surrogate mean minus ``beta`` times the mean KL, in float32."""
    ratio = torch.exp(log_prob_new.float() - log_prob_old.float())
    surrogate = (ratio * advantages.float()).mean()
    objective = surrogate - beta * kl.float().mean() if beta else surrogate
    return objective.to(log_prob_new.dtype)


def per_sample_loop_blocked(log_prob_new, log_prob_old, advantages, kl, beta):
    """Terms summed block by block (blocks of 50, a short last one), the penalty folded into
    each term, divided by the batch size once."""
    terms = torch.exp(log_prob_new - log_prob_old) * advantages.detach() - beta * kl
    total = sum(block.sum() for block in terms.split(50))
    return total / terms.shape[0]
