"""Wrong Double DQN targets."""


def _mask(terminated, dtype):
    return 1.0 - terminated.to(dtype)


def target_network_selects(rewards, next_q_online, next_q_target, terminated, gamma):
    """Selects the action with the target network: plain DQN under a Double DQN name."""
    greedy = next_q_target.argmax(dim=1, keepdim=True)
    values = next_q_target.gather(1, greedy).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def online_network_evaluates(rewards, next_q_online, next_q_target, terminated, gamma):
    """Selects and evaluates with the online network (the roles swapped at evaluation)."""
    values = next_q_online.max(dim=1).values
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def networks_swapped(rewards, next_q_online, next_q_target, terminated, gamma):
    """Target network selects, online network evaluates: both roles reversed."""
    greedy = next_q_target.argmax(dim=1, keepdim=True)
    values = next_q_online.gather(1, greedy).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def ignores_terminated(rewards, next_q_online, next_q_target, terminated, gamma):
    """Right selection, but bootstraps through terminal states."""
    greedy = next_q_online.argmax(dim=1, keepdim=True)
    values = next_q_target.gather(1, greedy).squeeze(1)
    return rewards + gamma * values


def argmin_selection(rewards, next_q_online, next_q_target, terminated, gamma):
    """``argmin`` typo for ``argmax`` in the selection."""
    greedy = next_q_online.argmin(dim=1, keepdim=True)
    values = next_q_target.gather(1, greedy).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def gather_wrong_axis(rewards, next_q_online, next_q_target, terminated, gamma):
    """Indexes ``next_q_target[greedy]`` (rows) instead of gathering along the action axis."""
    greedy = next_q_online.argmax(dim=1)
    values = next_q_target[greedy.clamp(max=next_q_target.shape[0] - 1), 0]
    return rewards + gamma * _mask(terminated, rewards.dtype) * values
