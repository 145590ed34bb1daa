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


def normalised_by_buffer_max_weight(probabilities, size, beta):
    """Normalises by the largest weight over the whole buffer, not over the batch.

    OpenAI baselines' ``max_weight = (p_min * N)^(-beta)`` with ``p_min``
    the smallest probability of the *buffer* (from a min-tree). That
    smallest probability is at most the average ``1/N``, so here it is
    bounded by ``min(min_batch P, 1/size)``: whenever the whole batch is
    more probable than average, the largest weight is below 1 and every
    update is scaled down by a factor the contract does not have.
    """
    raw = (size * probabilities) ** (-beta)
    buffer_min = torch.clamp(probabilities.min(), max=1.0 / size)
    return raw / (size * buffer_min) ** (-beta)


def min_over_first_block(probabilities, size, beta):
    """The batch minimum reduced over the first 32 elements only (one warp, no grid-stride loop).

    Right for every batch of at most 32; for larger batches a smaller
    probability further on gets a weight above 1.
    """
    smallest = probabilities[:32].min()
    return (smallest / probabilities) ** beta


def min_in_half_precision(probabilities, size, beta):
    """The batch minimum taken after a float16 cast (an autocast region around the loss).

    float16 flushes probabilities below ``6e-8`` to subnormals and below
    ``3e-8`` to 0: with the tiny probabilities of a long-tailed buffer every
    weight becomes 0 (or far off).
    """
    smallest = probabilities.half().min().to(probabilities.dtype)
    return (smallest / probabilities) ** beta
