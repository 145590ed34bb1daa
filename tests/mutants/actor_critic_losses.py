"""Wrong one-step actor-critic losses: the wiring bugs of issue 17's list and real A2C code."""

import torch


def _td(value_network, rewards, next_observations, terminated, gamma):
    with torch.no_grad():
        next_values = value_network(next_observations)
    return rewards + gamma * (1.0 - terminated.to(rewards.dtype)) * next_values


def advantage_not_detached(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Weights the log-probabilities by ``y - V(s)`` with V's graph: the actor's gradient
    also trains the critic (towards whatever raises the policy objective)."""
    values = value_network(observations)
    targets = _td(value_network, rewards, next_observations, terminated, gamma)
    advantages = targets - values
    policy_loss = -(policy(observations).log_prob(actions) * advantages).mean()
    return policy_loss, (values - targets).pow(2).mean()


def full_gradient_td(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Builds the critic's target ``r + gamma V(s')`` with gradient (residual gradient
    instead of semi-gradient TD): the critic is also pushed to move ``V(s')`` towards
    ``V(s)``."""
    values = value_network(observations)
    alive = 1.0 - terminated.to(rewards.dtype)
    targets = rewards + gamma * alive * value_network(next_observations)
    advantages = (targets - values).detach()
    policy_loss = -(policy(observations).log_prob(actions) * advantages).mean()
    return policy_loss, (values - targets).pow(2).mean()


def bootstraps_through_terminated(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Ignores ``terminated``: a terminal transition bootstraps from the value of a state
    that never comes."""
    values = value_network(observations)
    targets = _td(value_network, rewards, next_observations, torch.zeros_like(rewards), gamma)
    advantages = (targets - values).detach()
    policy_loss = -(policy(observations).log_prob(actions) * advantages).mean()
    return policy_loss, (values - targets).pow(2).mean()


def values_as_column(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """A critic that outputs ``[B, 1]`` (no ``squeeze``) regressed on ``[B]`` targets:
    ``(V - y)**2`` broadcasts to ``[B, B]`` and every value is fitted to every target
    (``F.mse_loss`` only warns)."""
    values = value_network(observations)[:, None]
    targets = _td(value_network, rewards, next_observations, terminated, gamma)
    advantages = (targets - values[:, 0]).detach()
    policy_loss = -(policy(observations).log_prob(actions) * advantages).mean()
    return policy_loss, (values - targets).pow(2).mean()


def advantage_sign_flipped(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Uses ``V(s) - y`` as the advantage (the TD error's sign confused with the value
    loss's residual): the actor makes better-than-expected actions less likely."""
    values = value_network(observations)
    targets = _td(value_network, rewards, next_observations, terminated, gamma)
    advantages = (values - targets).detach()
    policy_loss = -(policy(observations).log_prob(actions) * advantages).mean()
    return policy_loss, (values - targets).pow(2).mean()


def value_loss_summed(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """``F.mse_loss(..., reduction="sum")``: the critic's step size grows with the batch."""
    values = value_network(observations)
    targets = _td(value_network, rewards, next_observations, terminated, gamma)
    advantages = (targets - values).detach()
    policy_loss = -(policy(observations).log_prob(actions) * advantages).mean()
    return policy_loss, torch.nn.functional.mse_loss(values, targets, reduction="sum")


def reward_masked_at_termination(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Writes ``y = (r + gamma V(s')) * (1 - terminated)``: the mask swallows the last
    reward of every episode, often the only one that says how it ended."""
    values = value_network(observations)
    with torch.no_grad():
        next_values = value_network(next_observations)
    alive = 1.0 - terminated.to(rewards.dtype)
    targets = (rewards + gamma * next_values) * alive
    advantages = (targets - values).detach()
    policy_loss = -(policy(observations).log_prob(actions) * advantages).mean()
    return policy_loss, (values - targets).pow(2).mean()
