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


def vector_loop_forgets_mask(rewards, next_values, terminated, gamma):
    """Hand-vectorised in chunks of 1024 lanes: the main loop over full chunks forgets the
    terminated mask, the scalar remainder loop (the only one a batch under 1024 reaches) is
    right."""
    lanes = 1024
    full = rewards.shape[0] // lanes * lanes
    not_done = 1.0 - terminated.to(rewards.dtype)
    out = rewards + gamma * not_done * next_values
    out[:full] = rewards[:full] + gamma * next_values[:full]
    return out


def first_row_flag_for_all(rewards, next_values, terminated, gamma):
    """Uses ``terminated[0]`` for every transition (a ``[B, 1]`` / ``[1]`` broadcasting slip)."""
    not_done = 1.0 - terminated[:1].to(rewards.dtype)
    return rewards + gamma * not_done * next_values


def last_row_always_bootstraps(rewards, next_values, terminated, gamma):
    """Treats the batch's last transition as cut off by the rollout length and bootstraps it
    whatever ``terminated`` says."""
    not_done = 1.0 - terminated.to(rewards.dtype)
    not_done[-1] = 1.0
    return rewards + gamma * not_done * next_values


def float16_inside(rewards, next_values, terminated, gamma):
    """Computes under float16 autocast: 11 significant bits, and targets past 65504 overflow."""
    not_done = 1.0 - terminated.to(torch.float16)
    out = rewards.to(torch.float16) + gamma * not_done * next_values.to(torch.float16)
    return out.to(rewards.dtype)
