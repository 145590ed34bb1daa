"""Correct dueling aggregations written differently from the reference."""

import numpy as np
import torch


def numpy_keepdims(value, advantages, mode):
    """numpy with ``keepdims``."""
    if mode == "mean":
        return value + (advantages - advantages.mean(axis=1, keepdims=True))
    return value + (advantages - advantages.max(axis=1, keepdims=True))


def centred_then_added(value, advantages, mode):
    """Centre the advantages first, then add V (another association order)."""
    if mode == "mean":
        centred = advantages - advantages.sum(dim=1, keepdim=True) / advantages.shape[1]
    else:
        centred = advantages - advantages.amax(dim=1, keepdim=True)
    return centred + value


def float32_inside(value, advantages, mode):
    """Computes in float32 whatever comes in; gradients flow back through the casts."""
    a = advantages.float()
    baseline = a.mean(dim=1, keepdim=True) if mode == "mean" else a.amax(dim=1, keepdim=True)
    return (value.float() + a - baseline).to(advantages.dtype)


def column_loop(value, advantages, mode):
    """A loop over actions: a running sum, or a running ``torch.maximum``.

    ``torch.maximum`` splits the gradient between equal arguments, so at a k-way tie
    the max's gradient is spread unevenly over the tied actions (1/2, 1/4, 1/4 for
    three): another valid subgradient.
    """
    num_actions = advantages.shape[1]
    baseline = advantages[:, :1]
    for a in range(1, num_actions):
        column = advantages[:, a : a + 1]
        baseline = baseline + column if mode == "mean" else torch.maximum(baseline, column)
    if mode == "mean":
        baseline = baseline / num_actions
    return value + (advantages - baseline)


def last_tie_gathered(value, advantages, mode):
    """The max gathered at the *last* maximal action: its gradient goes to that one index."""
    if mode == "mean":
        return value + advantages - advantages.mean(dim=1, keepdim=True)
    last = advantages.shape[1] - 1 - advantages.flip(dims=[1]).argmax(dim=1, keepdim=True)
    return value + advantages - advantages.gather(1, last)


def numpy_float32(value, advantages, mode):
    """numpy in float32 throughout."""
    a = advantages.astype(np.float32)
    baseline = a.mean(axis=1, keepdims=True) if mode == "mean" else a.max(axis=1, keepdims=True)
    return (value.astype(np.float32) + a - baseline).astype(advantages.dtype)


def blocked_rows(value, advantages, mode, block=100):
    """A loop over blocks of 100 states, out of place, concatenated (differentiable)."""
    blocks = []
    for start in range(0, advantages.shape[0], block):
        a = advantages[start : start + block]
        if mode == "mean":
            baseline = a.sum(dim=1, keepdim=True) / a.shape[1]
        else:
            baseline = a.max(dim=1, keepdim=True).values
        blocks.append(value[start : start + block] - baseline + a)
    return torch.cat(blocks)
