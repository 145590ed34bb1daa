"""stable-baselines3's KL between action distributions (SB3 2.9.2) as the KL contracts.

``stable_baselines3.common.distributions.kl_divergence(dist_true, dist_pred)`` is
what sb3-contrib's TRPO calls (``trpo.py`` lines 284 and 336); for a
``CategoricalDistribution`` or ``DiagGaussianDistribution`` it hands the wrapped
``torch.distributions`` objects to ``torch.distributions.kl_divergence``. The
adapters build SB3's distributions the way SB3's policies do and call it unchanged:

* ``categorical_kl``: ``CategoricalDistribution(A).proba_distribution(logits)``.
* ``gaussian_kl``: ``DiagGaussianDistribution(K).proba_distribution(mean, log_std)``;
  SB3's policies output ``log_std``, so the adapter passes ``log(std)``.
  ``kl_divergence`` returns the per-dimension KL ``[B, K]`` (SB3 wraps a
  ``Normal``, not an ``Independent``); the adapter sums over ``K`` with SB3's own
  ``sum_independent_dims``, as SB3 does for ``log_prob`` and the entropy. TRPO
  itself takes ``kl_divergence(...).mean()`` over ``[B, K]`` (``trpo.py`` line 284),
  i.e. the per-state KL divided by ``K``: its ``target_kl`` is per action dimension.
"""

from __future__ import annotations

import torch as th
from stable_baselines3.common.distributions import (
    CategoricalDistribution,
    DiagGaussianDistribution,
    kl_divergence,
    sum_independent_dims,
)

from peers.checks import Check

__all__ = ["categorical_kl", "gaussian_kl"]


def categorical_kl(logits_p: th.Tensor, logits_q: th.Tensor) -> th.Tensor:
    actions = logits_p.shape[-1]
    dist_true = CategoricalDistribution(actions).proba_distribution(logits_p)
    dist_pred = CategoricalDistribution(actions).proba_distribution(logits_q)
    return kl_divergence(dist_true, dist_pred)


def gaussian_kl(
    mean_p: th.Tensor, std_p: th.Tensor, mean_q: th.Tensor, std_q: th.Tensor
) -> th.Tensor:
    dims = mean_p.shape[-1]
    dist_true = DiagGaussianDistribution(dims).proba_distribution(mean_p, th.log(std_p))
    dist_pred = DiagGaussianDistribution(dims).proba_distribution(mean_q, th.log(std_q))
    return sum_independent_dims(kl_divergence(dist_true, dist_pred))


CHECKS = [
    Check(
        "categorical_kl",
        "peers.sb3_distributions:categorical_kl",
        frozenset({"test_extreme_logit_gaps"}),
        "wrong: inf where q's probability underflows (torch's _kl_categorical_categorical)",
    ),
    Check("gaussian_kl", "peers.sb3_distributions:gaussian_kl"),
]
