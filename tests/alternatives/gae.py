"""Correct generalized advantage estimates written differently from the reference."""

import numpy as np
import torch


def _segments(ends: np.ndarray) -> dict[tuple[int, int], list[int]]:
    """Each episode piece ``[start, stop)`` of the rollout, with the columns that have it."""
    steps, envs = ends.shape
    pieces: dict[tuple[int, int], list[int]] = {}
    for n in range(envs):
        stops = [int(t) + 1 for t in np.flatnonzero(ends[:-1, n])] + [steps]
        for start, stop in zip([0, *stops[:-1]], stops, strict=True):
            pieces.setdefault((start, stop), []).append(n)
    return pieces


def numpy_discount_matrix(rewards, values, next_values, terminated, truncated, gamma, lam):
    """numpy, no recursion: on each episode piece ``A = M @ delta`` with the upper triangular
    ``M[t, k] = (gamma*lam)^(k-t)``, one matrix product for all the columns sharing the piece."""
    steps = rewards.shape[0]
    term = np.asarray(terminated).astype(bool)
    ends = term | np.asarray(truncated).astype(bool)
    deltas = np.where(term, rewards, rewards + gamma * next_values) - values
    deltas = deltas.astype(np.float64)
    offsets = np.arange(steps)[None, :] - np.arange(steps)[:, None]  # k - t
    powers = np.where(offsets >= 0, float(gamma * lam) ** np.maximum(offsets, 0), 0.0)
    advantages = np.empty(deltas.shape, dtype=np.float64)
    for (start, stop), columns in _segments(ends).items():
        length = stop - start
        advantages[start:stop, columns] = powers[:length, :length] @ deltas[start:stop, columns]
    return advantages.astype(rewards.dtype)


def numpy_backward_recursion(rewards, values, next_values, terminated, truncated, gamma, lam):
    """numpy in the inputs' dtype (float32 stays float32), one vector step per time step."""
    dtype = rewards.dtype
    term = np.asarray(terminated).astype(bool)
    continues = ~(term | np.asarray(truncated).astype(bool))
    decay = dtype.type(gamma * lam)
    deltas = np.where(term, rewards, rewards + dtype.type(gamma) * next_values) - values
    advantages = np.empty_like(deltas)
    following = np.zeros_like(deltas[0])
    for t in range(deltas.shape[0] - 1, -1, -1):
        following = deltas[t] + decay * continues[t] * following
        advantages[t] = following
    return advantages


def float32_lambda_returns(rewards, values, next_values, terminated, truncated, gamma, lam):
    """float32, through the lambda-return ``G_t = r_t + gamma * ((1-term_t) V'_t
    + lam * (1-end_t) * (G_{t+1} - V_{t+1}))`` and then ``A_t = G_t - V_t``, as TD(lambda) code
    that needs the critic's targets first would."""
    r, v, next_v = rewards.float(), values.float(), next_values.float()
    alive = 1.0 - terminated.float()
    continues = 1.0 - (terminated.bool() | truncated.bool()).float()
    lambda_returns = torch.empty_like(r)
    following = torch.zeros_like(r[0])  # G_{t+1} - V_{t+1}, the advantage of the next row
    for t in reversed(range(r.shape[0])):
        lambda_returns[t] = r[t] + gamma * (alive[t] * next_v[t] + lam * continues[t] * following)
        following = lambda_returns[t] - v[t]
    return (lambda_returns - v).to(rewards.dtype)


def float32_parallel_scan(rewards, values, next_values, terminated, truncated, gamma, lam):
    """float32 and no loop over time: ``A_t = delta_t + c_t A_{t+1}`` solved by log2(T) rounds of
    a Hillis-Steele scan, as a GPU kernel would."""
    alive = 1.0 - terminated.float()
    offset = rewards.float() + gamma * alive * next_values.float() - values.float()
    factor = gamma * lam * (1.0 - (terminated.bool() | truncated.bool()).float())
    span = 1
    while span < rewards.shape[0]:
        later_offset = torch.cat([offset[span:], torch.zeros_like(offset[:span])])
        later_factor = torch.cat([factor[span:], torch.zeros_like(factor[:span])])
        offset, factor = offset + factor * later_offset, factor * later_factor
        span *= 2
    return offset.to(rewards.dtype)


def float32_blocked_with_carry(rewards, values, next_values, terminated, truncated, gamma, lam):
    """float32, in blocks of 256 time steps solved from the last block to the first, each block
    starting from the advantage carried out of the block after it (a streaming kernel)."""
    block = 256
    alive = 1.0 - terminated.float()
    deltas = rewards.float() + gamma * alive * next_values.float() - values.float()
    decay = gamma * lam * (1.0 - (terminated.bool() | truncated.bool()).float())
    advantages = torch.empty_like(deltas)
    carry = torch.zeros_like(deltas[0])  # A of the first row after the block
    for start in reversed(range(0, deltas.shape[0], block)):
        for t in reversed(range(start, min(start + block, deltas.shape[0]))):
            carry = deltas[t] + decay[t] * carry
            advantages[t] = carry
    return advantages.to(rewards.dtype)
