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
