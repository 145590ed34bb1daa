"""Correct generalized advantage estimates written differently from the reference."""

import numpy as np
import torch


def numpy_discount_matrix(rewards, values, next_values, terminated, truncated, gamma, lam):
    """numpy, no recursion: ``A[:, n] = M_n @ delta[:, n]`` with ``M_n[t, k] = (gamma*lam)^(k-t)``
    for ``k`` from ``t`` to the end of ``t``'s episode and 0 elsewhere."""
    steps, envs = rewards.shape
    term = np.asarray(terminated).astype(bool)
    ends = term | np.asarray(truncated).astype(bool)
    deltas = np.where(term, rewards, rewards + gamma * next_values) - values
    offsets = np.arange(steps)[None, :] - np.arange(steps)[:, None]  # k - t
    powers = np.where(offsets >= 0, float(gamma * lam) ** np.maximum(offsets, 0), 0.0)
    advantages = np.empty((steps, envs), dtype=np.float64)
    for n in range(envs):
        episode = np.concatenate([[0], np.cumsum(ends[:-1, n])])
        same_episode = episode[:, None] == episode[None, :]
        advantages[:, n] = (powers * same_episode) @ deltas[:, n].astype(np.float64)
    return advantages.astype(rewards.dtype)


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
