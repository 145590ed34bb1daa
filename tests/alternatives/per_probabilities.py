"""Correct prioritized-replay probabilities written differently from the reference."""

import numpy as np
import torch


def numpy_log_softmax(priorities, alpha):
    """numpy, as a softmax of ``alpha * log p`` (zero priorities: ``log 0 = -inf``)."""
    if alpha == 0:
        # 0 * log 0 is NaN, but the contract's alpha = 0 is uniform.
        return np.full_like(priorities, 1.0 / priorities.shape[0])
    with np.errstate(divide="ignore"):
        logits = alpha * np.log(priorities)
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def float32_inside(priorities, alpha):
    """Computes in float32 whatever comes in, as a GPU-minded library would, scaled by the max.

    ``(p / max p)^alpha <= 1`` in float32: no overflow for any alpha, and a
    term that underflows is below float32's range, where the contract lets
    it go.
    """
    p = priorities.float()
    powered = (p / p.max()) ** alpha
    return (powered / powered.sum()).to(priorities.dtype)


def blocked_sum(priorities, alpha):
    """float64, the normaliser summed in blocks of 256 with the partial last block added."""
    powered = (priorities.double() / priorities.double().max()) ** alpha
    whole = powered.shape[0] // 256 * 256
    total = powered[:whole].reshape(-1, 256).sum(dim=1).sum() + powered[whole:].sum()
    return (powered / total).to(priorities.dtype)


def numpy_sorted_log_space(priorities, alpha):
    """numpy float64, ``exp(alpha (log p - log max))``, summed smallest first (``np.sort``)."""
    if alpha == 0:
        return np.full_like(priorities, 1.0 / priorities.shape[0])
    positive = priorities > 0
    logs = np.full(priorities.shape, -np.inf)
    logs[positive] = np.log(priorities[positive])
    powered = np.exp(alpha * (logs - logs.max()))
    return (powered / np.sort(powered).sum()).astype(priorities.dtype)


def float32_softmax_of_logs(priorities, alpha):
    """torch float32, ``softmax(alpha * log p)`` (``log 0 = -inf``): the log-space GPU idiom."""
    if alpha == 0:
        return torch.full_like(priorities, 1.0 / priorities.shape[0])
    logits = alpha * priorities.float().log()
    return torch.softmax(logits, dim=0).to(priorities.dtype)
