"""Correct prioritized-replay probabilities written differently from the reference."""

import numpy as np


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
    """Computes in float32 whatever comes in, as a GPU-minded library would."""
    powered = priorities.float() ** alpha
    return (powered / powered.sum()).to(priorities.dtype)
