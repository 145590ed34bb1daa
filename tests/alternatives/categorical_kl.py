"""Correct categorical KL divergences written differently from the reference."""

import numpy as np
import torch
from torch.distributions import Categorical


def numpy_logsumexp(logits_p, logits_q):
    """numpy, log-sum-exp with each row's maximum taken out, terms weighted by ``p``."""

    def log_softmax(x):
        shifted = x - x.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    log_p, log_q = log_softmax(logits_p), log_softmax(logits_q)
    return np.sum(np.exp(log_p) * (log_p - log_q), axis=1)


def float32_cross_entropy_form(logits_p, logits_q):
    """``H(p, q) - H(p)`` in float32, written as ``sum p * logits_p - sum p * logits_q`` plus
    the difference of the two log-normalisers."""
    x, y = logits_p.float(), logits_q.float()
    p = torch.softmax(x, dim=1)
    normalisers = torch.logsumexp(y, dim=1) - torch.logsumexp(x, dim=1)
    return ((p * (x - y)).sum(dim=1) + normalisers).to(logits_p.dtype)


def torch_categorical_log_probabilities(logits_p, logits_q):
    """``torch.distributions.Categorical`` for the normalisation only (its ``.logits`` are the
    log-probabilities, computed with ``logsumexp``), the expectation written out: stable where
    ``kl_divergence`` itself returns ``inf``."""
    p, q = Categorical(logits=logits_p), Categorical(logits=logits_q)
    return (p.probs * (p.logits - q.logits)).sum(dim=-1)


def numpy_rows_one_by_one_float32(logits_p, logits_q):
    """numpy, one row at a time, in float32, with ``np.logaddexp.reduce`` as the normaliser."""
    result = np.empty(logits_p.shape[0], dtype=logits_p.dtype)
    rows = zip(logits_p.astype(np.float32), logits_q.astype(np.float32), strict=True)
    for row, (x, y) in enumerate(rows):
        log_p = x - np.logaddexp.reduce(x)
        log_q = y - np.logaddexp.reduce(y)
        result[row] = np.sum(np.exp(log_p) * (log_p - log_q))
    return result
