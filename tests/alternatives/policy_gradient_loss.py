"""Correct policy-gradient losses written differently from the reference."""

import torch


def dot_product_float32(log_probs, weights):
    """A dot product in float32 with the weights blocked by ``torch.no_grad``."""
    with torch.no_grad():
        constant = weights.to(torch.float32).clone()
    loss = -torch.dot(log_probs.to(torch.float32), constant) / log_probs.shape[0]
    return loss.to(log_probs.dtype)


def per_sample_loop(log_probs, weights):
    """One term per sample, summed in a Python loop, weights read through ``.data``."""
    total = log_probs.new_zeros(())
    for index in range(log_probs.shape[0]):
        total = total - log_probs[index] * weights.data[index]
    return total / log_probs.shape[0]


def blocked_einsum(log_probs, weights):
    """Dot products of blocks of 100 (a short last one) with ``einsum``, summed, over B."""
    constant = weights.detach()
    total = sum(
        torch.einsum("i,i->", block, other)
        for block, other in zip(log_probs.split(100), constant.split(100), strict=True)
    )
    return -total / log_probs.shape[0]
