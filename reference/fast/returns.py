"""Reward-to-go as a compiled loop: the reference's recursion without per-row overhead.

:func:`drlspec.returns.discounted_returns` runs ``G_t = r_t + gamma (1 -
done_t) G_{t+1}`` as a Python loop of tensor operations over rows (a few
microseconds a row); here the same recursion runs compiled with numba over
the numpy views of the tensors.

Seed: 2、策略梯度 / REINFORCE. Paper: Williams (1992); Sutton & Barto (2018), eq. 3.9.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from drlspec import returns

__all__ = ["discounted_returns"]


@numba.njit(cache=True, nogil=True)
def _returns_loop(rewards, dones, gamma, out):
    steps, envs = rewards.shape
    # One running return per environment, in float64: the environments of a row
    # are independent, so the CPU overlaps their chains.
    carry = np.zeros(envs, dtype=np.float64)  # G_T = 0
    for t in range(steps - 1, -1, -1):
        for n in range(envs):
            running = rewards[t, n] + (0.0 if dones[t, n] else gamma * carry[n])
            carry[n] = running
            out[t, n] = running


def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, gamma: float) -> torch.Tensor:
    r"""Reward-to-go, cut at episode ends, bootstrapping nothing (contract ``discounted_returns``).

    .. math::  G_t = r_t + \gamma \, (1 - \text{done}_t) \, G_{t+1}, \qquad G_T = 0

    ``rewards`` and ``dones`` are ``[T, N]``; checks and result dtype as
    :func:`drlspec.returns.discounted_returns`. Tensors on another device
    than the CPU go to the reference.

    Seed: 2、策略梯度 / REINFORCE. Paper: Williams (1992).
    """
    gamma = returns.check_discounted_returns_arguments(rewards, dones, gamma)
    if rewards.device.type != "cpu" or rewards.dtype not in (torch.float32, torch.float64):
        return returns.discounted_returns(rewards, dones, gamma)
    result = torch.empty_like(rewards).detach()
    _returns_loop(
        rewards.detach().contiguous().numpy(),
        dones.detach().bool().contiguous().numpy(),
        gamma,
        result.numpy(),
    )
    return result
