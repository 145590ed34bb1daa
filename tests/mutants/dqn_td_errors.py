"""Wrong DQN TD errors: the wiring bugs of a DQN loss (issue 17's list, the seed's E1)."""

import torch


def _target(target_network, rewards, next_observations, terminated, gamma):
    with torch.no_grad():
        best = target_network(next_observations).max(dim=1).values
    return rewards + gamma * (1.0 - terminated.to(rewards.dtype)) * best


def prediction_with_target_network(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """The seed's formula (errata E1): the prediction ``Q(s, a; theta^-)`` uses the target
    network, so the loss has no gradient w.r.t. the online parameters it should train."""
    q = target_network(observations).gather(1, actions.long()[:, None]).squeeze(1)
    return q - _target(target_network, rewards, next_observations, terminated, gamma)


def target_with_gradient(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Builds ``y`` without ``no_grad``/``detach``: backward fills the target network's
    gradients, and an optimiser over both networks would move the target."""
    best = target_network(next_observations).max(dim=1).values
    y = rewards + gamma * (1.0 - terminated.to(rewards.dtype)) * best
    return q_network(observations).gather(1, actions.long()[:, None]).squeeze(1) - y


def actions_as_column(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Gathers with actions shaped ``[B, 1]`` and subtracts a ``[B]`` target: the result
    broadcasts to ``[B, B]`` (every prediction minus every target)."""
    q = q_network(observations).gather(1, actions.long()[:, None])
    return q - _target(target_network, rewards, next_observations, terminated, gamma)


def online_network_bootstraps(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Bootstraps from the online network (no target network at all), detached."""
    q = q_network(observations).gather(1, actions.long()[:, None]).squeeze(1)
    return q - _target(q_network, rewards, next_observations, terminated, gamma)


def full_gradient_td(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Residual-gradient TD: bootstraps from the online network *with* gradient, so theta is
    also trained through ``y``."""
    q = q_network(observations).gather(1, actions.long()[:, None]).squeeze(1)
    best = q_network(next_observations).max(dim=1).values
    y = rewards + gamma * (1.0 - terminated.to(rewards.dtype)) * best
    return q - y


def target_minus_prediction(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Returns ``y - Q_theta(s, a)``: the sign the contract fixes the other way (a PER
    priority is unaffected, but ``sum c_i delta_i`` descends the wrong way)."""
    q = q_network(observations).gather(1, actions.long()[:, None]).squeeze(1)
    return _target(target_network, rewards, next_observations, terminated, gamma) - q


def bootstrap_on_terminal(
    q_network, target_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Ignores ``terminated``: terminal transitions bootstrap from the next state's value."""
    q = q_network(observations).gather(1, actions.long()[:, None]).squeeze(1)
    zeros = torch.zeros_like(rewards)
    return q - _target(target_network, rewards, next_observations, zeros, gamma)
