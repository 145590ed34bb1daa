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


def float32_size_times_p(probabilities, size, beta):
    """float32, the paper's unnormalised ``(size * P)^(-beta)`` divided by its largest value."""
    raw = (size * probabilities.float()) ** (-beta)
    return (raw / raw.max()).to(probabilities.dtype)


def blocked_minimum(probabilities, size, beta):
    """The minimum reduced in blocks of 32 with the partial last block: the right blocked kernel."""
    padded = torch.cat([probabilities, probabilities[:1].expand(-probabilities.shape[0] % 32)])
    smallest = padded.reshape(-1, 32).min(dim=1).values.min()
    return (smallest / probabilities) ** beta
