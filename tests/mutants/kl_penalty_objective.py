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


def ratio_from_probabilities(log_prob_new, log_prob_old, advantages, kl, beta):
    """Forms the ratio as ``exp(new) / exp(old)``: a quotient of subnormals or ``0/0 = nan``
    once the log-probabilities fall below log(smallest float), -745 in float64, -104 in
    float32 (a converged policy's rare actions)."""
    ratio = log_prob_new.exp() / log_prob_old.exp()
    return torch.mean(ratio * advantages) - beta * torch.mean(kl)


def kl_summed_over_batch(log_prob_new, log_prob_old, advantages, kl, beta):
    """Averages the surrogate but sums the KL (``kl.sum()``, the total KL of the batch): the
    penalty then grows with the minibatch size."""
    ratio = torch.exp(log_prob_new - log_prob_old)
    return (ratio * advantages).mean() - beta * kl.sum()


def mean_of_block_means(log_prob_new, log_prob_old, advantages, kl, beta):
    """Averages the means of micro-batches of 32 (gradient accumulation): a short last block
    gets the weight of a full one, so the result is wrong whenever 32 does not divide B > 32."""
    terms = torch.exp(log_prob_new - log_prob_old) * advantages - beta * kl
    return torch.stack([block.mean() for block in terms.split(32)]).mean()


def penalty_skipped_when_beta_tiny(log_prob_new, log_prob_old, advantages, kl, beta):
    """Treats ``beta < 1e-8`` as 0 to save the KL term: the value barely moves, but the
    penalty's gradient ``-beta/B`` is gone (after repeated halving, beta does get that small)."""
    surrogate = (torch.exp(log_prob_new - log_prob_old) * advantages).mean()
    return surrogate if beta < 1e-8 else surrogate - beta * kl.mean()


def last_row_dropped(log_prob_new, log_prob_old, advantages, kl, beta):
    """Drops the last sample (``[:-1]``, as if it were a bootstrap step): a mean over B-1."""
    terms = torch.exp(log_prob_new - log_prob_old) * advantages - beta * kl
    return terms[:-1].mean() if terms.shape[0] > 1 else terms.mean()
