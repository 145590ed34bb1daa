"""Wrong categorical KL divergences."""

import torch
from torch.distributions import Categorical, kl_divergence


def reversed_kl(logits_p, logits_q):
    """Computes ``KL(q || p)``: the arguments' roles swapped (TRPO's constraint then measures
    the wrong direction)."""
    log_p = torch.log_softmax(logits_p, dim=1)
    log_q = torch.log_softmax(logits_q, dim=1)
    return (log_q.exp() * (log_q - log_p)).sum(dim=1)


def log_of_softmax(logits_p, logits_q):
    """``torch.log(torch.softmax(x))``, the seed's ``torch.log(probs)``: ``-inf`` once a
    probability underflows, then ``inf``/``nan``; imprecise well before that in float32."""
    p, q = torch.softmax(logits_p, dim=1), torch.softmax(logits_q, dim=1)
    return (p * (torch.log(p) - torch.log(q))).sum(dim=1)


def softmax_over_batch_axis(logits_p, logits_q):
    """Normalises over the batch axis (``dim=0``) instead of the actions."""
    log_p = torch.log_softmax(logits_p, dim=0)
    log_q = torch.log_softmax(logits_q, dim=0)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def logits_not_normalised(logits_p, logits_q):
    """Treats the raw logits as log-probabilities (no ``log_softmax`` for the log terms)."""
    p = torch.softmax(logits_p, dim=1)
    return (p * (logits_p - logits_q)).sum(dim=1)


def mean_over_actions(logits_p, logits_q):
    """Averages the terms over actions instead of summing them."""
    log_p = torch.log_softmax(logits_p, dim=1)
    log_q = torch.log_softmax(logits_q, dim=1)
    return (log_p.exp() * (log_p - log_q)).mean(dim=1)


def unweighted_log_ratio(logits_p, logits_q):
    """Sums ``log p - log q`` without weighting by ``p``: not an expectation under ``p``."""
    return (torch.log_softmax(logits_p, dim=1) - torch.log_softmax(logits_q, dim=1)).sum(dim=1)


def torch_distributions_underflow(logits_p, logits_q):
    """``torch.distributions.kl_divergence``: right for moderate logits, but it returns ``inf``
    wherever ``q``'s probability underflows to 0, although the KL is finite."""
    return kl_divergence(Categorical(logits=logits_p), Categorical(logits=logits_q))


def log_of_probability_ratio(logits_p, logits_q):
    """``sum p * log(p / q)`` from the probabilities (the textbook formula taken literally):
    ``p / q`` is ``inf`` where ``q`` underflows and ``0 * log(0)`` is ``nan`` where ``p`` does."""
    p, q = torch.softmax(logits_p, dim=1), torch.softmax(logits_q, dim=1)
    return (p * torch.log(p / q)).sum(dim=1)


def probabilities_clamped_at_epsilon(logits_p, logits_q):
    """``log(softmax(x).clamp(min=1e-8))``, the usual "avoid log(0)" guard: finite, but a
    probability below 1e-8 is taken as 1e-8, so the KL is capped near ``-log(1e-8) = 18.4``
    where a logit gap is larger."""
    p = torch.softmax(logits_p, dim=1)
    log_p = torch.log(p.clamp(min=1e-8))
    log_q = torch.log(torch.softmax(logits_q, dim=1).clamp(min=1e-8))
    return (p * (log_p - log_q)).sum(dim=1)


def batch_maximum_stabilisation(logits_p, logits_q):
    """A hand-written log-softmax that subtracts the *batch's* largest logit instead of each
    row's: a row far below the batch maximum has every ``exp`` underflow, ``log(0) = -inf``."""

    def log_softmax(x):
        shifted = x - x.max()
        return shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))

    log_p, log_q = log_softmax(logits_p), log_softmax(logits_q)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def zero_times_log_zero_at_masks(logits_p, logits_q):
    """``p * (log p - log q)`` summed as it stands (the reference before masks were in the
    contract): right for finite logits, NaN wherever ``p`` masks an action (``0 * -inf``)."""
    log_p = torch.log_softmax(logits_p, dim=1)
    log_q = torch.log_softmax(logits_q, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def masks_as_large_negative_logits(logits_p, logits_q):
    """Replaces ``-inf`` by ``-1e9`` first (the usual ``masked_fill(mask, -1e9)``): no NaN, but a
    large finite KL where ``q`` masks an action ``p`` keeps, whose KL is ``+inf``."""
    logits_p = logits_p.masked_fill(torch.isneginf(logits_p), -1e9)
    logits_q = logits_q.masked_fill(torch.isneginf(logits_q), -1e9)
    log_p = torch.log_softmax(logits_p, dim=1)
    log_q = torch.log_softmax(logits_q, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def nan_to_num_of_the_result(logits_p, logits_q):
    """Hides the NaN of masked actions with ``torch.nan_to_num``: a row where ``p`` masks an
    action becomes 0 whatever its KL, and ``+inf`` becomes the largest float."""
    log_p = torch.log_softmax(logits_p, dim=1)
    log_q = torch.log_softmax(logits_q, dim=1)
    return torch.nan_to_num((log_p.exp() * (log_p - log_q)).sum(dim=1))


def infinity_wherever_q_masks(logits_p, logits_q):
    """Applies the two conventions in the wrong order: ``+inf`` wherever ``q`` masks an action,
    also one that ``p`` masks too (``0 log 0 = 0`` must win there: a mask shared by both, the
    legal actions of one state, gives a finite KL)."""
    log_p = torch.log_softmax(logits_p, dim=1)
    log_q = torch.log_softmax(logits_q, dim=1)
    terms = torch.where(torch.isneginf(logits_p), 0.0, log_p.exp() * (log_p - log_q))
    terms = torch.where(torch.isneginf(logits_q), torch.inf, terms)
    return terms.sum(dim=1)
