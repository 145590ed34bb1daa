"""Correct DQN targets written differently from the reference."""

import numpy as np
import torch


def numpy_amax(rewards, next_q_target, terminated, gamma):
    """numpy, ``np.amax`` and a float mask."""
    not_done = 1.0 - np.asarray(terminated, dtype=np.float64)
    return rewards + gamma * not_done * np.amax(next_q_target, axis=1)


def sorted_last(rewards, next_q_target, terminated, gamma):
    """The max as the last element of a sort, terminal rows by ``torch.where``."""
    best = next_q_target.sort(dim=1).values[:, -1]
    return torch.where(terminated.bool(), rewards, rewards + gamma * best)


def float32_inside(rewards, next_q_target, terminated, gamma):
    """Computes in float32 whatever comes in, as a GPU-minded library would."""
    alive = 1.0 - terminated.to(torch.float32)
    best = next_q_target.float().amax(dim=1)
    return (rewards.float() + gamma * alive * best).to(rewards.dtype)


def row_loop(rewards, next_q_target, terminated, gamma):
    """One transition at a time, in Python floats (float64)."""
    targets = [
        reward if done else reward + gamma * max(q_row)
        for reward, q_row, done in zip(
            rewards.tolist(), next_q_target.tolist(), terminated.bool().tolist(), strict=True
        )
    ]
    return torch.tensor(targets, dtype=rewards.dtype)


def blocked(rewards, next_q_target, terminated, gamma, block=300):
    """Out of place, 300 transitions at a time, the max by a pairwise tournament over actions."""
    targets = torch.empty_like(rewards)
    for start in range(0, len(rewards), block):
        rows = slice(start, start + block)
        best = next_q_target[rows]
        while best.shape[1] > 1:
            half = best.shape[1] // 2
            paired = torch.maximum(best[:, :half], best[:, half : 2 * half])
            best = torch.cat([paired, best[:, 2 * half :]], dim=1)
        alive = ~terminated[rows].bool()
        targets[rows] = rewards[rows] + gamma * alive.to(rewards.dtype) * best[:, 0]
    return targets
