"""Correct KL-penalised objectives written differently from the reference."""

import torch


def two_means_float32(log_prob_new, log_prob_old, advantages, kl, beta):
    """Surrogate mean minus ``beta`` times the mean KL, in float32."""
    ratio = torch.exp(log_prob_new.float() - log_prob_old.float())
    surrogate = (ratio * advantages.float()).mean()
    objective = surrogate - beta * kl.float().mean() if beta else surrogate
    return objective.to(log_prob_new.dtype)


def ratio_from_probabilities(log_prob_new, log_prob_old, advantages, kl, beta):
    """The ratio as ``exp(new) / exp(old)``: fine while the log-probabilities stay above
    log(smallest float), as they do in this contract's inputs."""
    ratio = log_prob_new.exp() / log_prob_old.exp()
    return torch.mean(ratio * advantages) - beta * torch.mean(kl)
