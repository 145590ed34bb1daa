"""Wrong importance-sampling weights of prioritized replay."""

import torch


def normalised_by_min_weight(probabilities, size, beta):
    """Divides by the smallest weight: weights >= 1, so they scale updates *up*."""
    raw = (size * probabilities) ** (-beta)
    return raw / raw.min()


def beta_sign_flipped(probabilities, size, beta):
    """``(size * P)^(+beta)``: favours the transitions that are already replayed most."""
    raw = (size * probabilities) ** beta
    return raw / raw.max()


def seed_weight_unnormalised(probabilities, size, beta):
    """The seed's ``w_i = (1/N * 1/P(i))^beta`` with the ``/ max(w)`` left to the loss.

    Each weight is then as large as ``size^beta`` for a rare transition:
    the learning rate is effectively multiplied by it.
    """
    return (1.0 / size / probabilities) ** beta


def normalised_by_sum(probabilities, size, beta):
    """Normalises the weights like probabilities (sum 1), shrinking every update by ~B."""
    raw = (size * probabilities) ** (-beta)
    return raw / raw.sum()


def clamped_instead_of_normalised(probabilities, size, beta):
    """Keeps weights in (0, 1] by clamping ``(size * P)^(-beta)`` at 1 instead of normalising.

    Every transition sampled more often than uniformly gets its full
    correction, every rarer one is cut to 1: the correction is lost where
    it matters most.
    """
    return ((size * probabilities) ** (-beta)).clamp(max=1.0)


def half_precision(probabilities, size, beta):
    """Computes in bfloat16 (about 3 significant digits): not float32 accuracy."""
    ratio = probabilities.min().to(torch.bfloat16) / probabilities.to(torch.bfloat16)
    return (ratio**beta).to(probabilities.dtype)
