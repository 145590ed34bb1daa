"""Correct diagonal-Gaussian KL divergences written differently from the reference."""

import numpy as np
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
