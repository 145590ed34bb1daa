"""Correct one-step actor-critic losses written differently from the reference."""

import torch
import torch.nn.functional as F
from torch.func import functional_call


def half_mse_detached_target(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """CleanRL's convention: ``0.5 * F.mse_loss`` on a target built with gradient and
    detached afterwards (the factor 1/2 on value and gradient alike)."""
    alive = 1.0 - terminated.float().to(rewards.dtype)
    values = value_network(observations)
    targets = (rewards + gamma * alive * value_network(next_observations)).detach()
    value_loss = 0.5 * F.mse_loss(values, targets)
    advantages = targets - values.detach()
    policy_loss = -(policy(observations).log_prob(actions) * advantages).mean()
    return policy_loss, value_loss


def one_forward_of_both_states(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """``V`` of ``[s; s']`` in one forward, ``V(s')`` detached; the critic's parameters for the
    target passed detached through ``torch.func.functional_call`` is the same idea."""
    batch = rewards.shape[0]
    both = value_network(torch.cat([observations, next_observations]))
    values, next_values = both[:batch], both[batch:].detach()
    targets = torch.where(terminated.bool(), rewards, rewards + gamma * next_values)
    value_loss = ((targets - values) ** 2).sum() / batch
    log_probs = policy(observations).log_prob(actions)
    policy_loss = -(log_probs * (targets - values).detach()).sum() / batch
    return policy_loss, value_loss


def float32_functional(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """Both networks evaluated in float32 through ``torch.func.functional_call``, the target's
    critic with detached parameters (no ``no_grad``)."""

    def cast(module, detach):
        params = {n: (p.detach() if detach else p).float() for n, p in module.named_parameters()}
        return params | {n: b.float() for n, b in module.named_buffers()}

    obs, next_obs = observations.float(), next_observations.float()
    next_values = functional_call(value_network, cast(value_network, True), (next_obs,))
    values = functional_call(value_network, cast(value_network, False), (obs,))
    alive = (~terminated.bool()).float()
    targets = rewards.float() + float(gamma) * alive * next_values
    float_actions = actions.float() if actions.is_floating_point() else actions
    log_probs = functional_call(policy, cast(policy, False), (obs,)).log_prob(float_actions)
    policy_loss = -(log_probs * (targets - values).detach()).mean()
    return policy_loss, F.mse_loss(values, targets)


def sample_by_sample(
    policy, value_network, observations, actions, rewards, next_observations, terminated, gamma
):
    """One transition at a time, the bootstrap skipped by a Python ``if``."""
    batch = rewards.shape[0]
    policy_terms, value_terms = [], []
    for i in range(batch):
        target = rewards[i]
        if not bool(terminated[i]):
            with torch.no_grad():
                target = target + gamma * value_network(next_observations[i : i + 1])[0]
        value = value_network(observations[i : i + 1])[0]
        log_prob = policy(observations[i : i + 1]).log_prob(actions[i : i + 1])[0]
        policy_terms.append(-log_prob * float(target - value))
        value_terms.append((value - target) ** 2)
    return torch.stack(policy_terms).mean(), torch.stack(value_terms).mean()
