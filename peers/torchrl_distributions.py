"""``torch.distributions.kl.kl_divergence`` as the ``categorical_kl`` and ``gaussian_kl``
contracts: the KL that torchrl's ``KLPENPPOLoss.forward`` (``torchrl/objectives/ppo.py``
line 2016, torchrl 0.14.1) and tianshou's ``NPG``/``TRPO._update_with_batch``
(``tianshou/algorithm/modelfree/npg.py`` line 164, ``trpo.py`` line 147, tianshou 2.0.1)
compute between the old and the new policy's distributions (torch 2.13.0).

The distributions are the ones those libraries' policies build: ``Categorical(logits=...)``
for discrete actions, and for continuous ones a diagonal Gaussian with the action
dimensions summed, ``Independent(Normal(mean, std), 1)`` (tianshou's default ``dist_fn``;
torchrl's ``TanhNormal`` has no closed-form KL, so ``KLPENPPOLoss`` falls back to a
sampled estimate there, which no contract covers).
"""

from __future__ import annotations

from torch.distributions import Categorical, Independent, Normal
from torch.distributions.kl import kl_divergence

from peers.checks import Check

__all__ = ["categorical_kl", "gaussian_kl"]


def categorical_kl(logits_p, logits_q):
    """``kl_divergence(Categorical(logits=p), Categorical(logits=q))``."""
    return kl_divergence(Categorical(logits=logits_p), Categorical(logits=logits_q))


def gaussian_kl(mean_p, std_p, mean_q, std_q):
    """``kl_divergence`` of ``Independent(Normal(mean, std), 1)`` distributions."""
    return kl_divergence(
        Independent(Normal(mean_p, std_p), 1), Independent(Normal(mean_q, std_q), 1)
    )


CHECKS = [
    Check(
        "categorical_kl",
        "peers.torchrl_distributions:categorical_kl",
        frozenset({"test_extreme_logit_gaps"}),
        "inf where q's probability underflows to 0 (logit gaps beyond ~745 in float64)",
    ),
    Check("gaussian_kl", "peers.torchrl_distributions:gaussian_kl"),
]
