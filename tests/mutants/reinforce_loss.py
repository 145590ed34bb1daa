"""Wrong REINFORCE losses: reductions, signs and gradient leaks of real policy-gradient code."""

import torch


def sum_instead_of_mean(policy, observations, actions, returns):
    """Sums over the batch (the seed's one ``backward`` per step accumulates a sum): the
    step size then grows with the batch or episode length."""
    return -(policy(observations).log_prob(actions) * returns.detach()).sum()


def gradient_ascent_sign(policy, observations, actions, returns):
    """Drops the minus sign: an optimiser that minimises the loss then makes rewarded
    actions less likely (the objective is maximised, the loss minimised)."""
    return (policy(observations).log_prob(actions) * returns.detach()).mean()


def returns_not_detached(policy, observations, actions, returns):
    """Uses the returns with their graph: with a baseline ``G - V(s)`` the actor's loss
    trains the critic (to maximise the actor's objective, not to fit the returns)."""
    return -(policy(observations).log_prob(actions) * returns).mean()


def policy_under_no_grad(policy, observations, actions, returns):
    """Evaluates the policy under ``torch.no_grad()`` (code shared with action selection):
    the loss has the right value and no gradient, so the policy never learns."""
    with torch.no_grad():
        log_probs = policy(observations).log_prob(actions)
    return -(log_probs * returns.detach()).mean()


def log_probs_averaged_over_action_dimensions(policy, observations, actions, returns):
    """Averages the per-dimension Gaussian log-densities instead of summing them (a
    ``Normal`` without ``Independent``, reduced with ``mean(-1)``): log pi of a K-dimensional
    action is divided by K."""
    distribution = policy(observations)
    if isinstance(distribution, torch.distributions.Independent):
        log_probs = distribution.base_dist.log_prob(actions).mean(-1)
    else:
        log_probs = distribution.log_prob(actions)
    return -(log_probs * returns.detach()).mean()


def actions_as_column(policy, observations, actions, returns):
    """Passes discrete actions shaped ``[B, 1]`` (as stored by many replay buffers):
    ``Categorical.log_prob`` broadcasts them to ``[B, B]``, every action scored in every
    state, and the mean hides the shape."""
    if actions.ndim == 1:
        actions = actions[:, None]
    log_probs = policy(observations).log_prob(actions)
    return -(log_probs * returns.detach()).mean()


def entropy_instead_of_log_prob(policy, observations, actions, returns):
    """Weights the policy's entropy instead of the taken action's log-probability by the
    return (a mix-up of the entropy bonus with the score function): the actions taken are
    ignored."""
    return -(policy(observations).entropy() * returns.detach()).mean()
