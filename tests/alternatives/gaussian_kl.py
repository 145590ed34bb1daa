"""Correct diagonal-Gaussian KL divergences written differently from the reference."""

import numpy as np
import torch
from torch.distributions import Independent, Normal, kl_divergence


def numpy_log_std_form(mean_p, std_p, mean_q, std_q):
    """numpy, in terms of log standard deviations, one dimension at a time."""
    total = np.zeros(mean_p.shape[0], dtype=mean_p.dtype)
    for k in range(mean_p.shape[1]):
        log_sp, log_sq = np.log(std_p[:, k]), np.log(std_q[:, k])
        quadratic = (
            np.exp(2 * (log_sp - log_sq)) + ((mean_p[:, k] - mean_q[:, k]) / std_q[:, k]) ** 2
        )
        total += log_sq - log_sp + 0.5 * quadratic - 0.5
    return total


def torch_independent_float32(mean_p, std_p, mean_q, std_q):
    """``torch.distributions`` with ``Independent(Normal, 1)``, in float32."""
    p = Independent(Normal(mean_p.float(), std_p.float()), 1)
    q = Independent(Normal(mean_q.float(), std_q.float()), 1)
    return kl_divergence(p, q).to(mean_p.dtype)


def variance_form_float32(mean_p, std_p, mean_q, std_q):
    """In float32 through the variances: ``var = std**2``, the log-ratio as
    ``0.5 * (log var_q - log var_p)`` (``e^-32`` is still a float32 normal)."""
    var_p, var_q = std_p.float() ** 2, std_q.float() ** 2
    delta = mean_p.float() - mean_q.float()
    per_dim = 0.5 * (torch.log(var_q) - torch.log(var_p) + (var_p + delta**2) / var_q - 1.0)
    return per_dim.sum(dim=1).to(mean_p.dtype)
