"""Wrong policy-gradient (REINFORCE) losses."""

import torch


def missing_minus(log_probs, weights):
    """Returns the objective ``mean(log_probs * weights)`` as the loss: gradient *ascent* on the
    loss, so the optimiser makes good actions less likely."""
    return (log_probs * weights.detach()).mean()


def sum_instead_of_mean(log_probs, weights):
    """Sums over the batch (the seed's REINFORCE accumulates ``loss.backward()`` per step): the
    step size then grows with the batch."""
    return -(log_probs * weights.detach()).sum()


def weights_not_detached(log_probs, weights):
    """Forgets ``.detach()`` on the weights: a critic producing them is trained by the actor's
    loss (the seed's Actor-Critic needs ``td_delta.detach()`` for exactly this)."""
    return -(log_probs * weights).mean()


def probabilities_instead_of_log_probs(log_probs, weights):
    """Weights the probabilities instead of their logarithms: ``-mean(exp(log_probs) * w)``,
    whose gradient is ``pi * grad log pi``, not the score function."""
    return -(torch.exp(log_probs) * weights.detach()).mean()


def mean_of_weights_times_mean_of_log_probs(log_probs, weights):
    """Pairs every log-probability with the batch-mean weight (``mean(lp) * mean(w)``): credit
    no longer goes to the action that earned it."""
    return -(log_probs.mean() * weights.detach().mean())
