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


def naive_float64_power(priorities, alpha):
    """``p**alpha / sum`` in float64 without scaling by the largest priority first.

    Right for the paper's alpha and ordinary priorities; ``(1e12)^32``
    overflows to inf (inf/inf = NaN) and ``(1e-12)^30`` underflows to 0
    (0/0 = NaN), though the probabilities themselves are ordinary numbers.
    """
    powered = priorities.double() ** alpha
    return (powered / powered.sum()).to(priorities.dtype)


def naive_float32_power(priorities, alpha):
    """``p**alpha`` in float32, unscaled: overflows from ``(1e12)^3.2``, underflows from ``1e-38``.

    A GPU-minded implementation that computes in float32 without scaling by
    the largest priority: a whole batch of tiny priorities underflows to 0
    (NaN probabilities) at an alpha where float64 would not.
    """
    powered = priorities.float() ** alpha
    return (powered / powered.sum()).to(priorities.dtype)


def blocked_sum_drops_tail(priorities, alpha):
    """A blocked reduction (blocks of 256) that forgets the last, partial block.

    Exact for N <= 256 (one block, handled on its own) and for multiples of
    256; for N = 4351 the normaliser misses 255 terms and every probability
    is too large: only batches of thousands show it.
    """
    powered = (priorities / priorities.max()) ** alpha
    if powered.shape[0] <= 256:
        return powered / powered.sum()
    whole = powered.shape[0] // 256 * 256
    total = powered[:whole].reshape(-1, 256).sum(dim=1).sum()
    return powered / total


def softmax_of_priorities(priorities, alpha):
    """``softmax(alpha * p)``: a softmax of the priorities instead of their logarithms.

    The usual "temperature" reflex: P grows like ``exp(alpha p)``, not
    ``p^alpha``; a zero priority gets ``exp(0) > 0``.
    """
    return torch.softmax(alpha * priorities, dim=0)
