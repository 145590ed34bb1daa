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
