"""Wrong DQN targets."""

import torch


def _mask(terminated, dtype):
    return 1.0 - terminated.to(dtype)


def ignores_terminated(rewards, next_q_target, terminated, gamma):
    """Bootstraps through terminal states (the ``(1 - done)`` factor was forgotten)."""
    return rewards + gamma * next_q_target.max(dim=1).values


def max_over_batch(rewards, next_q_target, terminated, gamma):
    """``max(0)`` instead of ``max(1)``: the max over transitions, not over actions.

    Shapes still line up whenever B == A, which is how this slips through.
    """
    best = next_q_target.max(dim=0).values
    return rewards + gamma * _mask(terminated, rewards.dtype) * best


def argmax_index_as_value(rewards, next_q_target, terminated, gamma):
    """Uses the index of the best action where its value belongs (``.max(1)[1]`` for ``[0]``)."""
    best = next_q_target.max(dim=1)[1].to(rewards.dtype)
    return rewards + gamma * _mask(terminated, rewards.dtype) * best


def mean_instead_of_max(rewards, next_q_target, terminated, gamma):
    """Expected SARSA under a uniform policy (the seed's 三、替换为均值 reading of dueling)."""
    best = next_q_target.mean(dim=1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * best


def first_action_value(rewards, next_q_target, terminated, gamma):
    """``gather`` with a zero index tensor: always evaluates action 0."""
    return rewards + gamma * _mask(terminated, rewards.dtype) * next_q_target[:, 0]


def keepdim_broadcast(rewards, next_q_target, terminated, gamma):
    """``max(1, keepdim=True)`` added to a ``[B]`` reward: a ``[B, B]`` result, silently."""
    best = next_q_target.max(dim=1, keepdim=True).values
    return rewards + gamma * _mask(terminated, rewards.dtype) * best


def min_over_actions(rewards, next_q_target, terminated, gamma):
    """A pessimistic target: ``min`` where the Bellman optimality equation takes ``max``."""
    return rewards + gamma * _mask(terminated, rewards.dtype) * next_q_target.min(dim=1).values


def last_action_ignored(rewards, next_q_target, terminated, gamma):
    """Drops the last action column (an ``action_dim - 1`` off-by-one, e.g. a no-op column).

    Right whenever no row's best action is the last one: at A = 2 or 3 with a few rows,
    often; this is why every column is made some row's greedy action.
    """
    num_actions = next_q_target.shape[1]
    best = next_q_target[:, : max(num_actions - 1, 1)].max(dim=1).values
    return rewards + gamma * _mask(terminated, rewards.dtype) * best


def last_row_not_bootstrapped(rewards, next_q_target, terminated, gamma):
    """A Python loop over transitions with ``range(len(rewards) - 1)``: the last one keeps r."""
    targets = rewards.clone()
    not_done = _mask(terminated, rewards.dtype)
    best = next_q_target.max(dim=1).values
    for i in range(len(rewards) - 1):
        targets[i] = rewards[i] + gamma * not_done[i] * best[i]
    return targets


def q_values_clamped(rewards, next_q_target, terminated, gamma):
    """Clamps Q_target to [-1e4, 1e4] "for stability": wrong once returns are large."""
    best = next_q_target.clamp(-1e4, 1e4).max(dim=1).values
    return rewards + gamma * _mask(terminated, rewards.dtype) * best


def half_precision_inside(rewards, next_q_target, terminated, gamma):
    """Computes in float16 (autocast): 2**-11 relative error, 0 below 6e-8, inf above 65504."""
    best = next_q_target.half().max(dim=1).values
    out = rewards.half() + gamma * _mask(terminated, torch.float16) * best
    return out.to(rewards.dtype)


def gamma_stored_as_bfloat16(rewards, next_q_target, terminated, gamma):
    """gamma kept in a bfloat16 buffer: 0.999 becomes 1.0 (bfloat16 spacing at 1 is 2**-8)."""
    gamma = torch.tensor(gamma, dtype=torch.bfloat16).item()
    best = next_q_target.max(dim=1).values
    return rewards + gamma * _mask(terminated, rewards.dtype) * best
