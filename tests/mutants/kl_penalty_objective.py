"""Wrong PPO KL-penalised surrogate objectives."""

import torch


def plus_beta(log_prob_new, log_prob_old, advantages, kl, beta):
    """Adds the penalty (``+ beta * kl``): maximising the objective then *rewards* moving
    away from the old policy."""
    ratio = torch.exp(log_prob_new - log_prob_old)
    return (ratio * advantages + beta * kl).mean()


def log_ratio_instead_of_ratio(log_prob_new, log_prob_old, advantages, kl, beta):
    """Uses the log-ratio ``new - old`` where the ratio ``exp(new - old)`` belongs."""
    return ((log_prob_new - log_prob_old) * advantages - beta * kl).mean()


def sum_instead_of_mean(log_prob_new, log_prob_old, advantages, kl, beta):
    """Sums over the batch: the step size grows with the minibatch size."""
    ratio = torch.exp(log_prob_new - log_prob_old)
    return (ratio * advantages - beta * kl).sum()


def kl_detached(log_prob_new, log_prob_old, advantages, kl, beta):
    """Detaches the KL: the value is right, but the penalty never pulls the policy back."""
    ratio = torch.exp(log_prob_new - log_prob_old)
    return (ratio * advantages - beta * kl.detach()).mean()


def probability_ratio_of_log_probs(log_prob_new, log_prob_old, advantages, kl, beta):
    """Divides the log-probabilities (``new / old``) as if they were probabilities."""
    return (log_prob_new / log_prob_old * advantages - beta * kl).mean()


def penalty_on_mean_kl_squared(log_prob_new, log_prob_old, advantages, kl, beta):
    """Penalises ``beta * mean(kl)**2``: a quadratic penalty is not PPO's (Lagrangian) one."""
    ratio = torch.exp(log_prob_new - log_prob_old)
    return (ratio * advantages).mean() - beta * kl.mean() ** 2
