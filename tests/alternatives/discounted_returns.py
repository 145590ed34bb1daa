"""Correct reward-to-go computations written differently from the reference."""

import numpy as np
import torch


def numpy_discount_matrix(rewards, dones, gamma):
    """numpy, no recursion: ``G[:, n] = M_n @ r[:, n]`` with ``M_n[t, k] = gamma^(k-t)`` for ``k``
    from ``t`` to the end of ``t``'s episode and 0 elsewhere."""
    steps, envs = rewards.shape
    ends = np.asarray(dones).astype(bool)
    returns = np.empty((steps, envs), dtype=np.float64)
    offsets = np.arange(steps)[None, :] - np.arange(steps)[:, None]  # k - t
    powers = np.where(offsets >= 0, float(gamma) ** np.maximum(offsets, 0), 0.0)
    for n in range(envs):
        # Episode id of each step: a step after a done starts a new episode.
        episode = np.concatenate([[0], np.cumsum(ends[:-1, n])])
        same_episode = episode[:, None] == episode[None, :]
        returns[:, n] = (powers * same_episode) @ rewards[:, n].astype(np.float64)
    return returns.astype(rewards.dtype)


def float32_parallel_scan(rewards, dones, gamma):
    """float32 throughout, and no loop over time: the linear recurrence
    ``G_t = r_t + c_t G_{t+1}`` solved by log2(T) rounds of a Hillis-Steele scan, as a GPU
    kernel would (``(a, b)`` at ``t`` means ``G_t = a + b * G_{t+span}``)."""
    offset = rewards.float()
    factor = gamma * (1.0 - dones.float())
    span = 1
    while span < rewards.shape[0]:
        # Beyond the last row G is 0: pad with (a, b) = (0, 0).
        later_offset = torch.cat([offset[span:], torch.zeros_like(offset[:span])])
        later_factor = torch.cat([factor[span:], torch.zeros_like(factor[:span])])
        offset, factor = offset + factor * later_offset, factor * later_factor
        span *= 2
    return offset.to(rewards.dtype)
