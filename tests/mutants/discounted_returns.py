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


def blocked_without_carry(rewards, dones, gamma):
    """Works through time in blocks of 1024 steps (a kernel bounding its shared memory, or a
    streaming pass over a long rollout) and starts every block from ``G = 0``: the return is not
    carried across block boundaries. Right for T <= 1024."""
    block = 1024
    returns = torch.empty_like(rewards)
    for start in range(0, rewards.shape[0], block):
        stop = start + block
        returns[start:stop] = _right_returns(rewards[start:stop], dones[start:stop], gamma)
    return returns


def first_column_dones(rewards, dones, gamma):
    """Reads the dones of environment 0 for every environment (``dones[t, 0]``, left over from
    code written for one environment)."""
    return _right_returns(rewards, dones[:, :1].expand(rewards.shape), gamma)


def last_column_never_cut(rewards, dones, gamma):
    """Builds the cut mask from ``dones[:, :-1]`` (a slice meant for the time axis, applied to
    the environment axis) and pads with zeros: the last environment's return is never cut."""
    dones = dones.bool().clone()
    dones[:, -1] = False
    return _right_returns(rewards, dones, gamma)


def done_bits_in_uint32(rewards, dones, gamma):
    """Packs each environment's dones into one 32-bit word (``bits |= done << t``, the shift
    taken mod 32 as x86 does), then reads bit ``t``: right for T <= 32, and past that every
    step sees the dones of all steps congruent to it mod 32."""
    flags = dones.bool()
    folded = torch.zeros_like(flags[:32])
    for start in range(0, flags.shape[0], 32):
        chunk = flags[start : start + 32]
        folded[: chunk.shape[0]] |= chunk
    read = folded.repeat((flags.shape[0] + 31) // 32, 1)[: flags.shape[0]]
    return _right_returns(rewards, read, gamma)


def lanes_of_four_shifted_dones(rewards, dones, gamma):
    """Vectorised over four environments at a time; the scalar loop over the remaining
    environments (4 onwards) indexes the dones with the counter before its increment, so
    environment ``n >= 4`` uses the dones of environment ``n - 1``. Right for N <= 4."""
    shifted = dones.clone()
    shifted[:, 4:] = dones[:, 3:-1]
    return _right_returns(rewards, shifted, gamma)


def discount_power_division(rewards, dones, gamma):
    """The vectorised trick ``G_t = (sum_{k>=t} gamma^k r_k) / gamma^t``: a reverse cumulative
    sum of ``gamma^k r_k``, the part past each step's episode end subtracted, divided by
    ``gamma^t``. Algebraically right; numerically ``gamma^t`` underflows (0/0) for small
    ``gamma`` or long rollouts, and the subtraction cancels."""
    ends = dones.bool()
    steps = rewards.shape[0]
    powers = gamma ** torch.arange(steps, dtype=rewards.dtype, device=rewards.device)
    weighted = rewards * powers[:, None]
    suffix = torch.cat([weighted.flip(0).cumsum(0).flip(0), torch.zeros_like(weighted[:1])])
    # The first done at or after each step (the last row when none).
    episode_end = torch.empty(ends.shape, dtype=torch.long, device=rewards.device)
    following = torch.full_like(episode_end[0], steps - 1)
    for t in reversed(range(steps)):
        following = torch.where(ends[t], torch.full_like(following, t), following)
        episode_end[t] = following
    beyond = suffix.gather(0, episode_end + 1)
    return (suffix[:-1] - beyond) / powers[:, None]


def done_at_first_step_ignored(rewards, dones, gamma):
    """Loops over the steps that have a predecessor and treats step 0 as an episode start
    outside the loop, so a done at step 0 does not cut the return there."""
    dones = dones.bool().clone()
    dones[0] = False
    return _right_returns(rewards, dones, gamma)
