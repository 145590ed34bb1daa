"""Wrong one-step TD targets."""

import torch


def ignores_terminated(rewards, next_values, terminated, gamma):
    """Bootstraps through terminal states (the mask was forgotten)."""
    return rewards + gamma * next_values


def mask_inverted(rewards, next_values, terminated, gamma):
    """Bootstraps only at terminal states (``terminated`` used where ``1 - terminated`` belongs)."""
    return rewards + gamma * terminated.to(rewards.dtype) * next_values


def gamma_on_reward(rewards, next_values, terminated, gamma):
    """Discounts the immediate reward as well: ``gamma * (r + V(s'))``."""
    not_done = 1.0 - terminated.to(rewards.dtype)
    return gamma * (rewards + not_done * next_values)


def bool_flags_unsupported(rewards, next_values, terminated, gamma):
    """``1 - terminated`` on a bool tensor: works for float flags, raises for bool ones."""
    return rewards + gamma * (1 - terminated) * next_values


def float32_half_precision(rewards, next_values, terminated, gamma):
    """Computes in bfloat16: fine for training folklore, not at float32 accuracy."""
    not_done = 1.0 - terminated.to(torch.bfloat16)
    out = rewards.to(torch.bfloat16) + gamma * not_done * next_values.to(torch.bfloat16)
    return out.to(rewards.dtype)
