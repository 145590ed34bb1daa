"""Wrong KL divergences of diagonal Gaussians."""

import torch
from torch.distributions import Normal, kl_divergence


def _per_dim(mean_p, std_p, mean_q, std_q):
    return torch.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2) - 0.5


def reversed_kl(mean_p, std_p, mean_q, std_q):
    """Computes ``KL(q || p)``: the arguments' roles swapped."""
    return _per_dim(mean_q, std_q, mean_p, std_p).sum(dim=1)


def variance_where_std_belongs(mean_p, std_p, mean_q, std_q):
    """Squares the variances: the standard deviations were taken for variances."""
    var_p, var_q = std_p**2, std_q**2
    return _per_dim(mean_p, var_p, mean_q, var_q).sum(dim=1)


def mean_over_dimensions(mean_p, std_p, mean_q, std_q):
    """Averages over the action dimensions instead of summing (``.mean(-1)`` for ``.sum(-1)``)."""
    return _per_dim(mean_p, std_p, mean_q, std_q).mean(dim=1)


def missing_one_half(mean_p, std_p, mean_q, std_q):
    """Drops the 1/2 of the quadratic term: ``(s_p^2 + dm^2) / s_q^2``."""
    per_dim = torch.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / std_q**2 - 0.5
    return per_dim.sum(dim=1)


def log_std_ratio_flipped(mean_p, std_p, mean_q, std_q):
    """``log(s_p / s_q)`` where ``log(s_q / s_p)`` belongs."""
    per_dim = torch.log(std_p / std_q) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2) - 0.5
    return per_dim.sum(dim=1)


def std_as_log_std(mean_p, std_p, mean_q, std_q):
    """Exponentiates the standard deviations as if they were log-stds."""
    return _per_dim(mean_p, std_p.exp(), mean_q, std_q.exp()).sum(dim=1)


def torch_normal_without_sum(mean_p, std_p, mean_q, std_q):
    """``kl_divergence(Normal, Normal)`` without ``Independent``, reduced with ``.mean(-1)``:
    a per-dimension KL averaged as if it were a batch."""
    return kl_divergence(Normal(mean_p, std_p), Normal(mean_q, std_q)).mean(dim=-1)


def log_determinant_from_product(mean_p, std_p, mean_q, std_q):
    """The multivariate formula with ``log det = log(prod(var))``: the product of 64 variances
    of ``e^-32`` is ``e^-2048``, 0 in any float, and ``log(0) - log(0)`` is ``nan``."""
    var_p, var_q = std_p**2, std_q**2
    log_det_ratio = torch.log(var_q.prod(dim=1)) - torch.log(var_p.prod(dim=1))
    trace = (var_p / var_q).sum(dim=1)
    mahalanobis = ((mean_p - mean_q) ** 2 / var_q).sum(dim=1)
    return 0.5 * (trace + mahalanobis - mean_p.shape[1] + log_det_ratio)


def epsilon_added_to_variance(mean_p, std_p, mean_q, std_q):
    """``log(var + 1e-8)`` "to avoid log(0)": invisible for the usual standard deviations, but
    at ``std = 1e-7`` the epsilon is a million variances and the log-ratio is ~0."""
    var_p, var_q = std_p**2, std_q**2
    log_ratio = 0.5 * (torch.log(var_q + 1e-8) - torch.log(var_p + 1e-8))
    per_dim = log_ratio + (var_p + (mean_p - mean_q) ** 2) / (2 * var_q) - 0.5
    return per_dim.sum(dim=1)


def total_over_batch(mean_p, std_p, mean_q, std_q):
    """Reduces the batch as well (``.sum()``, as a loss would) and hands the total to every
    row: right for one row, wrong by the others' KL for more."""
    total = _per_dim(mean_p, std_p, mean_q, std_q).sum()
    return total.expand(mean_p.shape[0])
