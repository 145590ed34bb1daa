"""Correct categorical KL divergences written differently from the reference.

Each handles masked actions (``-inf`` logits, part of the contract) in its own way: ``0 log 0 = 0``
where ``p`` masks an action, ``+inf`` where ``q`` masks one that ``p`` keeps.
"""

import numpy as np
import torch
from torch.distributions import Categorical


def numpy_logsumexp(logits_p, logits_q):
    """numpy, log-sum-exp with each row's maximum taken out, terms weighted by ``p``; the terms
    of actions ``p`` masks are set to 0 (their log-ratio is ``-inf`` or NaN)."""

    def log_softmax(x):
        shifted = x - x.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    log_p, log_q = log_softmax(logits_p), log_softmax(logits_q)
    with np.errstate(invalid="ignore"):
        terms = np.where(np.isneginf(logits_p), 0.0, np.exp(log_p) * (log_p - log_q))
    return np.sum(terms, axis=1)


def float32_cross_entropy_form(logits_p, logits_q):
    """``H(p, q) - H(p)`` in float32, written as ``sum p * logits_p - sum p * logits_q`` plus
    the difference of the two log-normalisers; a logit difference where ``p`` masks is 0."""
    x, y = logits_p.float(), logits_q.float()
    p = torch.softmax(x, dim=1)
    normalisers = torch.logsumexp(y, dim=1) - torch.logsumexp(x, dim=1)
    differences = torch.where(torch.isneginf(x), 0.0, x - y)
    return ((p * differences).sum(dim=1) + normalisers).to(logits_p.dtype)


def torch_categorical_log_probabilities(logits_p, logits_q):
    """``torch.distributions.Categorical`` for the normalisation only (its ``.logits`` are the
    log-probabilities, computed with ``logsumexp``), the expectation written out: stable where
    ``kl_divergence`` itself returns ``inf``. Only actions with ``p > 0`` contribute."""
    p, q = Categorical(logits=logits_p), Categorical(logits=logits_q)
    terms = p.probs * (p.logits - q.logits)
    return torch.where(p.probs > 0, terms, 0.0).sum(dim=-1)


def numpy_rows_one_by_one_float32(logits_p, logits_q):
    """numpy, one row at a time, in float32, with ``np.logaddexp.reduce`` as the normaliser;
    the sum runs over the actions ``p`` keeps."""
    result = np.empty(logits_p.shape[0], dtype=logits_p.dtype)
    rows = zip(logits_p.astype(np.float32), logits_q.astype(np.float32), strict=True)
    for row, (x, y) in enumerate(rows):
        kept = ~np.isneginf(x)
        log_p = x[kept] - np.logaddexp.reduce(x)
        log_q = y[kept] - np.logaddexp.reduce(y)
        result[row] = np.sum(np.exp(log_p) * (log_p - log_q))
    return result
