"""Correct Double DQN targets written differently from the reference."""

import numpy as np
import torch


def numpy_last_tie(rewards, next_q_online, next_q_target, terminated, gamma):
    """numpy, breaking ties in Q_online towards the *last* maximal action."""
    num_actions = next_q_online.shape[1]
    greedy = num_actions - 1 - np.argmax(next_q_online[:, ::-1], axis=1)
    values = next_q_target[np.arange(len(greedy)), greedy]
    return np.where(np.asarray(terminated, dtype=bool), rewards, rewards + gamma * values)


def one_hot_float32(rewards, next_q_online, next_q_target, terminated, gamma):
    """float32, evaluating the selected action through a one-hot mask."""
    greedy = next_q_online.argmax(dim=1)
    one_hot = torch.nn.functional.one_hot(greedy, next_q_online.shape[1]).float()
    values = (one_hot * next_q_target.float()).sum(dim=1)
    alive = 1.0 - terminated.float()
    return (rewards.float() + gamma * alive * values).to(rewards.dtype)


def float32_selection(rewards, next_q_online, next_q_target, terminated, gamma):
    """Selects on a float32 copy of Q_online: merges only gaps the tie rule admits."""
    greedy = next_q_online.float().argmax(dim=1, keepdim=True)
    values = next_q_target.float().gather(1, greedy).squeeze(1)
    alive = 1.0 - terminated.float()
    return (rewards.float() + gamma * alive * values).to(rewards.dtype)


def row_loop(rewards, next_q_online, next_q_target, terminated, gamma):
    """One transition at a time in Python floats, ties broken towards the last action."""
    targets = []
    for reward, online, target, done in zip(
        rewards.tolist(),
        next_q_online.tolist(),
        next_q_target.tolist(),
        terminated.bool().tolist(),
        strict=True,
    ):
        best = max(range(len(online)), key=lambda a: (online[a], a))
        targets.append(reward if done else reward + gamma * target[best])
    return torch.tensor(targets, dtype=rewards.dtype)


def numpy_float32_inside(rewards, next_q_online, next_q_target, terminated, gamma):
    """numpy in float32 throughout, with a one-hot evaluation."""
    online = next_q_online.astype(np.float32)
    greedy = online.argmax(axis=1)
    one_hot = np.eye(online.shape[1], dtype=np.float32)[greedy]
    values = (one_hot * next_q_target.astype(np.float32)).sum(axis=1)
    alive = 1.0 - np.asarray(terminated, dtype=np.float32)
    out = rewards.astype(np.float32) + np.float32(gamma) * alive * values
    return out.astype(rewards.dtype)
