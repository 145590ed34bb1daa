"""Correct DQN TD errors written differently from the reference."""

import torch
from torch.func import functional_call


def functional_detached_parameters(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """``torch.func.functional_call`` with the target's parameters detached (no ``no_grad``)."""
    frozen = {name: p.detach() for name, p in target_network.named_parameters()}
    frozen.update(dict(target_network.named_buffers()))
    best = functional_call(target_network, frozen, (next_observations,)).max(dim=1).values
    params = dict(q_network.named_parameters()) | dict(q_network.named_buffers())
    q = functional_call(q_network, params, (observations,))
    predictions = q[torch.arange(actions.shape[0]), actions.long()]
    alive = torch.logical_not(terminated.bool()).to(rewards.dtype)
    return predictions - (rewards + gamma * alive * best)


def one_hot_and_detach(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Selects ``Q(s, a)`` through a one-hot mask and detaches the target afterwards."""
    q = q_network(observations)
    mask = torch.nn.functional.one_hot(actions.long(), q.shape[1]).to(q.dtype)
    y = rewards + gamma * (1.0 - terminated.to(rewards.dtype)) * target_network(
        next_observations
    ).amax(dim=1)
    return (q * mask).sum(dim=1) - y.detach()


def sample_by_sample(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """One transition at a time, the bootstrap skipped by a Python ``if``."""
    errors = []
    for i in range(actions.shape[0]):
        target = rewards[i]
        if not bool(terminated[i]):
            with torch.no_grad():
                target = target + gamma * target_network(next_observations[i : i + 1]).max()
        errors.append(q_network(observations[i : i + 1])[0, int(actions[i])] - target)
    return torch.stack(errors)


def float32_inside(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """The online network run in float32 through ``functional_call`` (its float64 weights
    cast), the target in its own precision: a float32 TD error and gradient."""
    params = {name: p.float() for name, p in q_network.named_parameters()}
    params |= {name: b.float() for name, b in q_network.named_buffers()}
    q = functional_call(q_network, params, (observations.float(),))
    with torch.no_grad():
        best = target_network(next_observations).max(dim=1).values.float()
    targets = rewards.float() + gamma * (1.0 - terminated.float()) * best
    return q.gather(1, actions.long()[:, None])[:, 0] - targets
