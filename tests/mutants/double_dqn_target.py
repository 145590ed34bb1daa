"""Wrong Double DQN targets."""

import torch


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


def selects_by_sum_of_networks(rewards, next_q_online, next_q_target, terminated, gamma):
    """Selects by ``argmax(Q_online + Q_target)``: an "ensemble" that lets the target vote."""
    greedy = (next_q_online + next_q_target).argmax(dim=1, keepdim=True)
    values = next_q_target.gather(1, greedy).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def selects_in_half_precision(rewards, next_q_online, next_q_target, terminated, gamma):
    """The online network run under float16 autocast: gaps below 2**-11 relative become ties.

    Its argmax then takes the first of the merged actions, which need not be the greedy one.
    """
    greedy = next_q_online.half().argmax(dim=1, keepdim=True)
    values = next_q_target.gather(1, greedy).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def selects_in_bfloat16(rewards, next_q_online, next_q_target, terminated, gamma):
    """The online network run under bfloat16 autocast: gaps below 2**-8 relative merge."""
    greedy = next_q_online.bfloat16().argmax(dim=1, keepdim=True)
    values = next_q_target.gather(1, greedy).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def max_indices_gathered_as_one_row(rewards, next_q_online, next_q_target, terminated, gamma):
    """``torch.max(Q_online, 1)`` then ``gather(1, idx.unsqueeze(0))``: row 0's Q_target
    at every row's greedy action (``unsqueeze(0)`` for ``unsqueeze(1)``, silent for every B).
    """
    _, greedy = torch.max(next_q_online, dim=1)
    values = next_q_target.gather(1, greedy.unsqueeze(0)).squeeze(0)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def argmax_over_batch(rewards, next_q_online, next_q_target, terminated, gamma):
    """``argmax(dim=0)``: the best transition per action; shapes only line up when B == A."""
    greedy = next_q_online.argmax(dim=0)
    values = next_q_target.gather(1, greedy.unsqueeze(1)).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def last_action_never_selected(rewards, next_q_online, next_q_target, terminated, gamma):
    """Selects among ``Q_online[:, :-1]`` (an ``action_dim - 1`` off-by-one)."""
    num_actions = next_q_online.shape[1]
    greedy = next_q_online[:, : max(num_actions - 1, 1)].argmax(dim=1, keepdim=True)
    values = next_q_target.gather(1, greedy).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def last_row_not_bootstrapped(rewards, next_q_online, next_q_target, terminated, gamma):
    """A loop over transitions with ``range(B - 1)``: the last transition keeps r."""
    targets = rewards.clone()
    greedy = next_q_online.argmax(dim=1)
    not_done = _mask(terminated, rewards.dtype)
    for i in range(len(rewards) - 1):
        targets[i] = rewards[i] + gamma * not_done[i] * next_q_target[i, greedy[i]]
    return targets


def gamma_rounded_to_three_decimals(rewards, next_q_online, next_q_target, terminated, gamma):
    """gamma read back from a config written with ``%.3f``: 0.9999 becomes 1.000."""
    gamma = round(gamma, 3)
    greedy = next_q_online.argmax(dim=1, keepdim=True)
    values = next_q_target.gather(1, greedy).squeeze(1)
    return rewards + gamma * _mask(terminated, rewards.dtype) * values


def flat_index_in_int16(rewards, next_q_online, next_q_target, terminated, gamma):
    """Gathers through a flat index ``row * A + action`` kept in int16.

    Right until the table has more than 32767 entries (B * A: 4096 x 64 in a large
    replay batch); past that the index wraps to negative and reads another row.
    """
    batch, num_actions = next_q_online.shape
    rows = torch.arange(batch, dtype=torch.int16)
    greedy = next_q_online.argmax(dim=1).to(torch.int16)
    flat = rows * num_actions + greedy
    values = next_q_target.flatten()[flat.long()]
    return rewards + gamma * _mask(terminated, rewards.dtype) * values
