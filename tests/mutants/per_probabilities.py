"""Wrong prioritized-replay sampling probabilities."""

import torch


def alpha_applied_twice(priorities, alpha):
    """The seed's formulas chained: ``p_i = (delta + eps)^alpha`` then ``P(i) = p_i^alpha / sum``.

    Right at alpha = 0 and alpha = 1, which is why it survives casual tests;
    at alpha = 0.6 it samples as if alpha were 0.36.
    """
    powered = (priorities**alpha) ** alpha
    return powered / powered.sum()


def alpha_ignored(priorities, alpha):
    """Samples proportionally to ``p`` whatever alpha (alpha forgotten, or applied elsewhere)."""
    return priorities / priorities.sum()


def normalised_by_max(priorities, alpha):
    """Divides by the largest ``p^alpha`` instead of the sum: not a distribution."""
    powered = priorities**alpha
    return powered / powered.max()


def epsilon_added_again(priorities, alpha):
    """Adds eps a second time (the caller already did): zero priorities become sampleable."""
    powered = (priorities + 1e-6) ** alpha
    return powered / powered.sum()


def zero_priorities_dropped_at_alpha_zero(priorities, alpha):
    """Masks zero priorities to probability 0 even at alpha = 0, which must be uniform."""
    powered = torch.where(priorities > 0, priorities**alpha, torch.zeros_like(priorities))
    return powered / powered.sum()


def half_precision(priorities, alpha):
    """Computes in bfloat16 (about 3 significant digits): not float32 accuracy."""
    powered = priorities.to(torch.bfloat16) ** alpha
    return (powered / powered.sum()).to(priorities.dtype)
