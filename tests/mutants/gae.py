"""Wrong generalized advantage estimates, each a mistake seen in real code."""

import torch


def _flags(flags, like):
    return flags.to(like.dtype)


def _backward(deltas, decay):
    """``A_t = delta_t + decay_t * A_{t+1}``, ``A_T = 0`` (a correct helper, not a mutant)."""
    advantages = torch.empty_like(deltas)
    following = torch.zeros_like(deltas[0])
    for t in reversed(range(deltas.shape[0])):
        following = deltas[t] + decay[t] * following
        advantages[t] = following
    return advantages


def _td_errors(rewards, values, next_values, terminated, gamma):
    return rewards + gamma * (1.0 - _flags(terminated, rewards)) * next_values - values


def _ends(terminated, truncated, like):
    return (terminated.bool() | truncated.bool()).to(like.dtype)


def seed_compute_advantage(rewards, values, next_values, terminated, truncated, gamma, lam):
    """The seed's TRPO code: ``td_target`` masked with gym's ``done`` (termination or
    truncation) and ``compute_advantage`` running ``gamma * lmbda * advantage + delta`` over the
    whole batch without ever cutting the trace."""
    dones = _ends(terminated, truncated, rewards)
    deltas = rewards + gamma * next_values * (1.0 - dones) - values
    return _backward(deltas, torch.full_like(deltas, gamma * lam))


def trace_never_cut(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Right TD errors, but the trace runs on across episode ends, so the next episode's
    advantages leak into the last steps of this one."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    return _backward(deltas, torch.full_like(deltas, gamma * lam))


def truncation_as_termination(rewards, values, next_values, terminated, truncated, gamma, lam):
    """``dones = terminated | truncated`` used for the bootstrap as well as the trace
    (cleanrl issue 198): a time limit is treated as a terminal state worth 0."""
    dones = _ends(terminated, truncated, rewards)
    deltas = rewards + gamma * (1.0 - dones) * next_values - values
    return _backward(deltas, gamma * lam * (1.0 - dones))


def ignores_truncation(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Only ``terminated`` is used: the trace runs on across a time limit into the reset
    episode (code written for the pre-0.26 gym API with its single ``done``)."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    return _backward(deltas, gamma * lam * (1.0 - _flags(terminated, rewards)))


def trace_mask_of_next_step(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Off by one: cuts the trace with the flags of step ``t + 1`` instead of step ``t``
    (a ``dones`` array read as if it held ``episode_starts``)."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    continues = 1.0 - _ends(terminated, truncated, rewards)
    shifted = torch.cat([continues[1:], torch.ones_like(continues[:1])])
    return _backward(deltas, gamma * lam * shifted)


def lam_without_gamma(rewards, values, next_values, terminated, truncated, gamma, lam):
    """The trace decays by ``lam`` alone instead of ``gamma * lam``."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    return _backward(deltas, lam * (1.0 - _ends(terminated, truncated, rewards)))


def bootstraps_from_next_row(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Uses ``values[t + 1]`` of the rollout as ``V(s_{t+1})`` (``next_values`` only for the last
    row), the usual ``nextvalues = values[t + 1]``: after a truncation that row is the value of
    the reset observation, not of the state the episode was cut off in."""
    following_values = torch.cat([values[1:], next_values[-1:]])
    deltas = _td_errors(rewards, values, following_values, terminated, gamma)
    return _backward(deltas, gamma * lam * (1.0 - _ends(terminated, truncated, rewards)))


def mixes_environments(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Flattens ``[T, N]`` row-major and runs one trace over all ``T * N`` entries, so each
    environment's trace continues into its neighbour's at the same step."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma).reshape(-1, 1)
    continues = 1.0 - _ends(terminated, truncated, rewards).reshape(-1, 1)
    return _backward(deltas, gamma * lam * continues).reshape(rewards.shape)


def time_axis_last(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Reads the rollout as ``[N, T]``, as code written for one environment's ``[1, T]`` batch
    does: the recursion runs over the environments instead of time."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    continues = 1.0 - _ends(terminated, truncated, rewards)
    return _backward(deltas.T, gamma * lam * continues.T).T


def returns_instead_of_advantages(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Returns ``A + values`` (the TD(lambda) return the critic regresses on) where the advantage
    belongs."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    advantages = _backward(deltas, gamma * lam * (1.0 - _ends(terminated, truncated, rewards)))
    return advantages + values


def normalised_inside(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Standardises the advantages inside the kernel (PPO's per-batch trick, which belongs to
    the loss, not to the estimator)."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    advantages = _backward(deltas, gamma * lam * (1.0 - _ends(terminated, truncated, rewards)))
    return (advantages - advantages.mean()) / (advantages.std(unbiased=False) + 1e-8)


def bfloat16_trace(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Runs the trace in bfloat16 to save memory: far below float32 accuracy."""
    low = rewards.to(torch.bfloat16)
    deltas = _td_errors(low, values.to(low.dtype), next_values.to(low.dtype), terminated, gamma)
    advantages = _backward(deltas, gamma * lam * (1.0 - _ends(terminated, truncated, low)))
    return advantages.to(rewards.dtype)


def _right_gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """The correct estimator (private: the mutants below feed it wrong flags)."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    return _backward(deltas, gamma * lam * (1.0 - _ends(terminated, truncated, rewards)))


def blocked_without_carry(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Works through time in blocks of 256 steps (a GPU kernel bounding its shared memory, or a
    streaming pass over a long rollout) and starts every block from ``A = 0`` as if the block
    ended the batch: the advantage is not carried across block boundaries. Right for T <= 256."""
    block = 256
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    decay = gamma * lam * (1.0 - _ends(terminated, truncated, rewards))
    advantages = torch.empty_like(deltas)
    for start in range(0, deltas.shape[0], block):
        stop = start + block
        advantages[start:stop] = _backward(deltas[start:stop], decay[start:stop])
    return advantages


def first_column_flags(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Reads the flags of environment 0 for every environment (``terminated[t, 0]``, left over
    from code written for one environment and then vectorised over the values only)."""
    shape = rewards.shape
    return _right_gae(
        rewards,
        values,
        next_values,
        terminated[:, :1].expand(shape),
        truncated[:, :1].expand(shape),
        gamma,
        lam,
    )


def last_column_never_cut(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Builds the trace mask from ``ends[:, :-1]`` (a slice meant for the time axis, applied to
    the environment axis) and pads with ones: the last environment's trace is never cut."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    continues = 1.0 - _ends(terminated, truncated, rewards)
    continues = torch.cat([continues[:, :-1], torch.ones_like(continues[:, -1:])], dim=1)
    return _backward(deltas, gamma * lam * continues)


def _fold_mod_32(flags):
    """``flags[t]`` replaced by the OR of ``flags[t']`` over ``t' = t mod 32``."""
    flags = flags.bool()
    folded = torch.zeros_like(flags[:32])
    for start in range(0, flags.shape[0], 32):
        chunk = flags[start : start + 32]
        folded[: chunk.shape[0]] |= chunk
    return folded.repeat((flags.shape[0] + 31) // 32, 1)[: flags.shape[0]]


def done_bits_in_uint32(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Packs each environment's flags into one 32-bit word (``bits |= flag << t``, the shift
    taken mod 32 as x86 does), then reads bit ``t``: right for T <= 32, and past that every
    step sees the flags of all steps congruent to it mod 32."""
    return _right_gae(
        rewards,
        values,
        next_values,
        _fold_mod_32(terminated),
        _fold_mod_32(truncated),
        gamma,
        lam,
    )


def lanes_of_four_shifted_flags(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Vectorised over four environments at a time; the scalar loop over the remaining
    environments (4 onwards) indexes the flags with the counter before its increment, so
    environment ``n >= 4`` uses the flags of environment ``n - 1``. Right for N <= 4."""
    shifted = [terminated.clone(), truncated.clone()]
    for flags, original in zip(shifted, (terminated, truncated), strict=True):
        flags[:, 4:] = original[:, 3:-1]
    return _right_gae(rewards, values, next_values, *shifted, gamma, lam)


def discount_power_division(rewards, values, next_values, terminated, truncated, gamma, lam):
    """The vectorised trick ``A_t = (sum_{k>=t} c^k delta_k) / c^t``: a reverse cumulative sum of
    ``c^k delta_k``, the part past each step's episode end subtracted, divided by ``c^t``.
    Algebraically right; numerically ``c^t`` underflows (0/0) for small ``c`` or long rollouts,
    and the subtraction cancels."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    ends = terminated.bool() | truncated.bool()
    steps = deltas.shape[0]
    powers = (gamma * lam) ** torch.arange(steps, dtype=deltas.dtype, device=deltas.device)
    weighted = deltas * powers[:, None]
    suffix = torch.cat([weighted.flip(0).cumsum(0).flip(0), torch.zeros_like(weighted[:1])])
    # The first episode end at or after each step (the last row when none).
    episode_end = torch.empty(ends.shape, dtype=torch.long, device=deltas.device)
    following = torch.full_like(episode_end[0], steps - 1)
    for t in reversed(range(steps)):
        following = torch.where(ends[t], torch.full_like(following, t), following)
        episode_end[t] = following
    beyond = suffix.gather(0, episode_end + 1)
    return (suffix[:-1] - beyond) / powers[:, None]


def end_at_first_step_ignored(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Loops over the steps that have a predecessor and treats step 0 as the start of an episode
    outside the loop, so an episode that ends at step 0 does not cut the trace there."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    continues = 1.0 - _ends(terminated, truncated, rewards)
    continues[0] = 1.0
    return _backward(deltas, gamma * lam * continues)


def last_row_always_bootstraps(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Treats the last row as cut off by the rollout length and adds ``gamma * last_value``
    unmasked (``advantages[-1] = r[-1] + gamma * last_value - v[-1]``), also when that step
    terminated."""
    deltas = _td_errors(rewards, values, next_values, terminated, gamma)
    deltas[-1] = rewards[-1] + gamma * next_values[-1] - values[-1]
    return _backward(deltas, gamma * lam * (1.0 - _ends(terminated, truncated, rewards)))


def time_outs_are_terminal_in_place(
    rewards, values, next_values, terminated, truncated, gamma, lam
):
    """ "Time-outs are terminal", written into the caller's ``terminated`` (issue 13).

    Before the harness handed out private copies, the oracle read the
    rewritten flags too, and this passed every property at any budget.
    """
    terminated[truncated.bool()] = True if terminated.dtype == torch.bool else 1.0
    return _right_gae(rewards, values, next_values, terminated, truncated, gamma, lam)
