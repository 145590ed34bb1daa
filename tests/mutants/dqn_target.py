"""Wrong DQN targets."""


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
