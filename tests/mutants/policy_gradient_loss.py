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


def log_of_probabilities(log_probs, weights):
    """Recovers log-probabilities through the probabilities, ``log(exp(log_probs))`` (the seed's
    ``torch.log(probs)`` pattern): ``-inf`` once ``exp`` underflows (below -745 in float64,
    -104 in float32) and inexact for subnormal probabilities."""
    return -(torch.log(torch.exp(log_probs)) * weights.detach()).mean()


def mean_of_block_means(log_probs, weights):
    """Averages the means of micro-batches of 32 (gradient accumulation): a short last block
    gets the weight of a full one, so the loss is wrong whenever 32 does not divide B > 32."""
    terms = -(log_probs * weights.detach())
    return torch.stack([block.mean() for block in terms.split(32)]).mean()


def weights_shifted_by_one_step(log_probs, weights):
    """Pairs each log-probability with the next sample's weight (``weights[1:]``, the last one
    repeated): the off-by-one of aligning returns with the step after the action."""
    shifted = torch.cat([weights[1:], weights[-1:]]).detach()
    return -(log_probs * shifted).mean()
