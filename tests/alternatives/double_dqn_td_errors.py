"""Correct Double DQN TD errors written differently from the reference."""

import torch
from torch.func import functional_call


def functional_detached_parameters(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """``torch.func.functional_call`` with detached parameters for the selection and the
    evaluation; one forward of the online network over ``s`` and ``s'`` together."""
    online = dict(q_network.named_parameters()) | dict(q_network.named_buffers())
    both = functional_call(q_network, online, (torch.cat([observations, next_observations]),))
    batch = actions.shape[0]
    q, next_online = both[:batch], both[batch:].detach()
    frozen = {name: p.detach() for name, p in target_network.named_parameters()}
    frozen.update(dict(target_network.named_buffers()))
    next_target = functional_call(target_network, frozen, (next_observations,))
    greedy = next_online.argmax(dim=1, keepdim=True)
    value = next_target.gather(1, greedy).squeeze(1)
    alive = 1.0 - terminated.to(rewards.dtype)
    return q.gather(1, actions.long().view(-1, 1)).view(-1) - (rewards + gamma * alive * value)


def one_hot_last_tie(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """One-hot masks for the prediction and the evaluation; ties broken towards the last action."""
    with torch.no_grad():
        next_online = q_network(next_observations)
        num_actions = next_online.shape[1]
        greedy = num_actions - 1 - next_online.flip(1).argmax(dim=1)
        pick = torch.nn.functional.one_hot(greedy, num_actions).to(next_online.dtype)
        value = (target_network(next_observations) * pick).sum(dim=1)
        y = rewards + gamma * (1.0 - terminated.to(rewards.dtype)) * value
    q = q_network(observations)
    mask = torch.nn.functional.one_hot(actions.long(), q.shape[1]).to(q.dtype)
    return (q * mask).sum(dim=1) - y
