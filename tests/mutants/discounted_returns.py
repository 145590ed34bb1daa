"""Wrong reward-to-go computations, each a mistake seen in real code."""

import torch


def _continues(dones, like):
    return 1.0 - dones.to(like.dtype)


def _right_returns(rewards, dones, gamma):
    """The correct recursion, which the mutants below misuse (private: not a mutant)."""
    continues = _continues(dones, rewards)
    returns = torch.empty_like(rewards)
    following = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        following = rewards[t] + gamma * continues[t] * following
        returns[t] = following
    return returns


def forward_cumulative(rewards, dones, gamma):
    """Accumulates from the first step forwards (``G_t = r_t + gamma * G_{t-1}``): the loop runs
    the wrong way, so each step collects the past rewards instead of the future ones."""
    continues = _continues(dones, rewards)
    returns = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0]):
        running = rewards[t] + gamma * running
        returns[t] = running
        running = running * continues[t]
    return returns


def never_cut_at_dones(rewards, dones, gamma):
    """Ignores ``dones``: fine for one episode per batch (the seed's REINFORCE), wrong once
    several episodes share a rollout."""
    returns = torch.empty_like(rewards)
    following = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        following = rewards[t] + gamma * following
        returns[t] = following
    return returns


def cut_one_step_late(rewards, dones, gamma):
    """Off by one: uses ``done_{t+1}`` where ``done_t`` belongs (an ``episode_starts`` mask read
    as a ``dones`` mask), so the first reward of the next episode leaks into the last step."""
    continues = _continues(dones, rewards)
    returns = torch.empty_like(rewards)
    following = torch.zeros_like(rewards[0])
    steps = rewards.shape[0]
    for t in reversed(range(steps)):
        mask = continues[t + 1] if t + 1 < steps else torch.ones_like(following)
        following = rewards[t] + gamma * mask * following
        returns[t] = following
    return returns


def discounts_immediate_reward(rewards, dones, gamma):
    """``G_t = gamma * (r_t + (1 - done_t) * G_{t+1})``: the sum starts at ``gamma^1``."""
    continues = _continues(dones, rewards)
    returns = torch.empty_like(rewards)
    following = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        following = gamma * (rewards[t] + continues[t] * following)
        returns[t] = following
    return returns


def mixes_environments(rewards, dones, gamma):
    """Flattens ``[T, N]`` row-major and treats it as one long trajectory: environment ``n``
    receives the rewards of environment ``n + 1`` at the same step."""
    flat_rewards = rewards.reshape(-1)
    flat_continues = _continues(dones, rewards).reshape(-1)
    flat = torch.empty_like(flat_rewards)
    following = torch.zeros((), dtype=rewards.dtype, device=rewards.device)
    for i in reversed(range(flat.shape[0])):
        following = flat_rewards[i] + gamma * flat_continues[i] * following
        flat[i] = following
    return flat.reshape(rewards.shape)


def time_axis_last(rewards, dones, gamma):
    """Reads the rollout as ``[N, T]`` (time along the last axis), as code written for a single
    environment's ``[1, T]`` batch does."""
    return _right_returns(rewards.T, dones.T, gamma).T


def normalised_inside(rewards, dones, gamma):
    """Standardises the returns inside the kernel (a REINFORCE variance trick), so the caller
    no longer gets ``G_t``."""
    returns = _right_returns(rewards, dones, gamma)
    return (returns - returns.mean()) / (returns.std(unbiased=False) + 1e-8)


def bfloat16_accumulation(rewards, dones, gamma):
    """Accumulates in bfloat16 to save memory: long sums lose digits far beyond float32."""
    low = _right_returns(rewards.to(torch.bfloat16), dones, gamma)
    return low.to(rewards.dtype)
