"""Correct REINFORCE losses written differently from the reference."""

import math

import torch
from torch.func import functional_call


def sample_by_sample(policy, observations, actions, returns):
    """One step at a time, the return read out as a Python float (a constant by construction)."""
    total = 0.0
    batch = returns.shape[0]
    for i in range(batch):
        log_prob = policy(observations[i : i + 1]).log_prob(actions[i : i + 1])[0]
        total = total - log_prob * float(returns[i])
    return total / batch


def float32_functional(policy, observations, actions, returns):
    """The policy evaluated in float32 through ``torch.func.functional_call``; the cast of each
    parameter is differentiable, so the gradient reaches the float64 parameters."""
    params = {name: p.float() for name, p in policy.named_parameters()}
    params.update({name: b.float() for name, b in policy.named_buffers()})
    float_actions = actions.float() if actions.is_floating_point() else actions
    distribution = functional_call(policy, params, (observations.float(),))
    log_probs = distribution.log_prob(float_actions)
    return torch.mean(-log_probs * returns.detach().float())


def explicit_log_density(policy, observations, actions, returns):
    """``log pi(a|s)`` written out from the distribution's parameters (log-softmax gather, or
    the diagonal Gaussian density summed over action dimensions)."""
    distribution = policy(observations)
    if isinstance(distribution, torch.distributions.Categorical):
        logits = distribution.logits
        log_probs = logits.gather(1, actions.long()[:, None])[:, 0] - logits.logsumexp(1)
    else:
        mean, std = distribution.mean, distribution.stddev
        z = (actions - mean) / std
        log_probs = (-0.5 * z**2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
    weights = returns.detach()
    return -(log_probs @ weights) / weights.shape[0]
