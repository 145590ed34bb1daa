"""Correct importance-sampling weights written differently from the reference."""

import torch


def numpy_definition(probabilities, size, beta):
    """numpy, the paper's form: ``(size * P)^(-beta)`` over its batch maximum."""
    raw = (size * probabilities) ** (-beta)
    return raw / raw.max()


def float32_log_space(probabilities, size, beta):
    """float32, in log space: ``exp(-beta * (log P - min log P))``."""
    log_p = probabilities.float().log()
    return torch.exp(-beta * (log_p - log_p.min())).to(probabilities.dtype)
