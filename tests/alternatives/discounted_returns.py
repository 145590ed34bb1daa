"""Correct reward-to-go computations written differently from the reference."""

import numpy as np
import torch


def numpy_discount_matrix(rewards, dones, gamma):
    """numpy, no recursion: on each episode piece ``G = M @ r`` with the upper triangular
    ``M[t, k] = gamma^(k-t)``, one matrix product for all the columns sharing the piece."""
    steps, envs = rewards.shape
    ends = np.asarray(dones).astype(bool)
    offsets = np.arange(steps)[None, :] - np.arange(steps)[:, None]  # k - t
    powers = np.where(offsets >= 0, float(gamma) ** np.maximum(offsets, 0), 0.0)
    pieces: dict[tuple[int, int], list[int]] = {}
    for n in range(envs):
        # A step after a done starts a new episode piece.
        stops = [int(t) + 1 for t in np.flatnonzero(ends[:-1, n])] + [steps]
        for start, stop in zip([0, *stops[:-1]], stops, strict=True):
            pieces.setdefault((start, stop), []).append(n)
    returns = np.empty((steps, envs), dtype=np.float64)
    r = rewards.astype(np.float64)
    for (start, stop), columns in pieces.items():
        length = stop - start
        returns[start:stop, columns] = powers[:length, :length] @ r[start:stop, columns]
    return returns.astype(rewards.dtype)


def numpy_backward_recursion(rewards, dones, gamma):
    """numpy in the rewards' dtype (float32 stays float32), one vector step per time step."""
    discount = rewards.dtype.type(gamma) * (~np.asarray(dones).astype(bool))
    returns = np.empty_like(rewards)
    following = np.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        following = rewards[t] + discount[t] * following
        returns[t] = following
    return returns


def float32_sequential(rewards, dones, gamma):
    """float32 inside whatever comes in, the plain backward loop."""
    r = rewards.float()
    discount = gamma * (1.0 - dones.float())
    returns = torch.empty_like(r)
    following = torch.zeros_like(r[0])
    for t in reversed(range(r.shape[0])):
        following = r[t] + discount[t] * following
        returns[t] = following
    return returns.to(rewards.dtype)


def float32_blocked_with_carry(rewards, dones, gamma):
    """float32, in blocks of 1024 time steps solved from the last block to the first: inside a
    block a Hillis-Steele scan, then the return carried out of the later block is added with
    the block's cumulative discount (``G_t = a_t + b_t * G_{block end + 1}``)."""
    block = 1024
    r = rewards.float()
    discount = gamma * (1.0 - dones.float())
    returns = torch.empty_like(r)
    carry = torch.zeros_like(r[0])  # G of the first row after the block
    for start in reversed(range(0, r.shape[0], block)):
        offset, factor = r[start : start + block], discount[start : start + block]
        span = 1
        while span < offset.shape[0]:
            # Past the block's end: the identity (a, b) = (0, 1), so that b keeps the
            # whole product of the discounts to the block's end.
            later_offset = torch.cat([offset[span:], torch.zeros_like(offset[:span])])
            later_factor = torch.cat([factor[span:], torch.ones_like(factor[:span])])
            offset, factor = offset + factor * later_offset, factor * later_factor
            span *= 2
        # Now G_t = offset_t + factor_t * (G after the block), factor_t the product to the end.
        returns[start : start + block] = offset + factor * carry
        carry = returns[start]
    return returns.to(rewards.dtype)


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
