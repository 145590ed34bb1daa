r"""KL divergences between the policy distributions TRPO and PPO constrain: categorical (from
logits) and diagonal Gaussian.

Seed: ``:four: TRPO`` / ``KL 散度`` (:math:`D_{KL}(P, Q) = \sum_i P(i) \log \frac{P(i)}{Q(i)}`,
and the integral for densities). The argument order is the seed's and the papers': the first
distribution is the one the expectation is taken under. TRPO's constraint and PPO's penalty
use :math:`D_{KL}(\pi_{\theta_\text{old}} \,\|\, \pi_\theta)`, so the old (frozen)
policy goes first.

Both kernels return one KL per row ``[B]``; rows are independent. Callers average them (TRPO's
:math:`\bar D_{KL}`) or feed them to :func:`drlspec.policy_losses.kl_penalty_objective`.
"""

from __future__ import annotations

import torch

from drlspec.checks import check_floating, check_same_device, check_shape

__all__ = ["categorical_kl", "gaussian_kl"]


def _check_matrix(name: str, x: object, shape: list[int | str], what: str) -> torch.Tensor:
    tensor = check_floating(name, x)
    check_shape(name, tensor, shape)
    if tensor.shape[1] == 0:
        raise ValueError(f"{name} must have at least one {what}, got shape {list(tensor.shape)}")
    return tensor


def categorical_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    r"""KL divergence of two categorical distributions given by unnormalised logits.

    .. math::
        D_{KL}(p \,\|\, q) = \sum_{a} p(a) \big(\log p(a) - \log q(a)\big), \qquad
        \log p = \operatorname{log\_softmax}(\ell_p)

    Non-negative, zero iff the two rows define the same distribution, and unchanged when a
    constant is added to a row of either argument's logits. The log-probabilities come from
    ``log_softmax``, never ``log(softmax)``: any finite logits are valid input, and where one
    action's logit trails another's by more than ~100 (float32) or ~745 (float64) the
    softmax underflows to 0 and its logarithm to ``-inf``, although the KL is finite and
    exactly representable. An action with ``p(a)`` underflowing to 0 contributes 0 (its
    term's limit), never ``0 * inf``.

    Masked actions: a logit of ``-inf`` is an action with probability exactly 0 (how
    invalid actions are masked). With the convention ``0 log 0 = 0``, an action masked in
    ``p`` contributes 0 whatever ``q`` says of it (masked there too, or not); an action
    masked in ``q`` but not in ``p`` makes the KL ``+inf``, its true value (``p`` puts mass
    where ``q`` has none, however small ``p(a)`` is in floating point). These are the
    conventions of ``torch.distributions``' ``kl_divergence``. A row whose logits are all
    ``-inf`` defines no distribution and is a ``ValueError``; NaN and ``+inf`` logits are
    outside the contract.

    Args:
        logits_p: ``[B, A]`` logits of ``p`` (the distribution the expectation is under).
        logits_q: ``[B, A]`` logits of ``q``.

    Returns:
        ``[B]`` divergences, in the dtype of ``logits_p``.

    Seed: :four: TRPO / KL 散度 (离散分布). Paper: Kullback & Leibler (1951); Schulman et al.
    (2015), eq. 12 for its use as TRPO's constraint.
    """
    _check_matrix("logits_p", logits_p, ["B", "A"], "action")
    _check_matrix("logits_q", logits_q, list(logits_p.shape), "action")
    check_same_device(logits_p=logits_p, logits_q=logits_q)
    _check_some_action_unmasked("logits_p", logits_p)
    _check_some_action_unmasked("logits_q", logits_q)

    log_p = torch.log_softmax(logits_p, dim=1)
    log_q = torch.log_softmax(logits_q.to(logits_p.dtype), dim=1)
    masked_p, masked_q = torch.isneginf(logits_p), torch.isneginf(logits_q)
    # 0 log 0 = 0: an action masked in p adds nothing, whatever q says of it. Its log-ratio
    # (-inf, or NaN when q masks it too) is replaced before the product, which also keeps NaN
    # out of the gradient. Where p merely underflows, exp(log_p) is exactly 0 and the
    # log-ratio finite, so such actions add exactly 0 too.
    log_ratio = torch.where(masked_p, torch.zeros_like(log_p), log_p - log_q)
    divergence = (log_p.exp() * log_ratio).sum(dim=1)
    # An action p keeps and q masks has p > 0 exactly, even where exp(log_p) underflows:
    # the KL is +inf, decided by the masks rather than by the rounded probability.
    outside_support = (masked_q & ~masked_p).any(dim=1)
    return torch.where(outside_support, torch.full_like(divergence, torch.inf), divergence)


def _check_some_action_unmasked(name: str, logits: torch.Tensor) -> None:
    """Every row must leave an action unmasked (a logit above ``-inf``)."""
    masked_rows = torch.isneginf(logits).all(dim=1)
    if bool(masked_rows.any()):
        row = int(masked_rows.nonzero()[0, 0])
        raise ValueError(
            f"{name} must leave at least one action unmasked in every row, "
            f"got row {row} with every logit -inf"
        )


def gaussian_kl(
    mean_p: torch.Tensor,
    std_p: torch.Tensor,
    mean_q: torch.Tensor,
    std_q: torch.Tensor,
) -> torch.Tensor:
    r"""KL divergence of two diagonal Gaussians, summed over the action dimensions.

    .. math::
        D_{KL}(p \,\|\, q) = \sum_{k=1}^{K} \left[
            \log\frac{\sigma_{q,k}}{\sigma_{p,k}}
            + \frac{\sigma_{p,k}^2 + (\mu_{p,k} - \mu_{q,k})^2}{2 \sigma_{q,k}^2}
            - \frac12 \right]

    The sum (not the mean) over ``k``: the action dimensions of a diagonal Gaussian are
    independent, and the KL of a product of independent factors is the sum of theirs.

    Args:
        mean_p: ``[B, K]`` means of ``p`` (the distribution the expectation is under).
        std_p: ``[B, K]`` standard deviations of ``p`` (not variances, not log-stds), ``> 0``.
        mean_q: ``[B, K]`` means of ``q``.
        std_q: ``[B, K]`` standard deviations of ``q``, ``> 0``.

    Returns:
        ``[B]`` divergences, in the dtype of ``mean_p``.

    Seed: :four: TRPO / KL 散度 (连续分布). Paper: Schulman et al. (2015), appendix C
    (diagonal Gaussian policies).
    """
    _check_matrix("mean_p", mean_p, ["B", "K"], "action dimension")
    shape = list(mean_p.shape)
    _check_matrix("std_p", std_p, shape, "action dimension")
    _check_matrix("mean_q", mean_q, shape, "action dimension")
    _check_matrix("std_q", std_q, shape, "action dimension")
    check_same_device(mean_p=mean_p, std_p=std_p, mean_q=mean_q, std_q=std_q)
    for name, std in (("std_p", std_p), ("std_q", std_q)):
        if not bool((std > 0).all()):
            raise ValueError(f"{name} must be positive (a standard deviation, not a log-std)")

    dtype = mean_p.dtype
    std_p, mean_q, std_q = std_p.to(dtype), mean_q.to(dtype), std_q.to(dtype)
    variance_ratio = (std_p / std_q) ** 2
    mean_term = ((mean_p - mean_q) / std_q) ** 2
    # log(sigma_q / sigma_p) = -0.5 log(variance_ratio): one log, no cancellation.
    per_dim = 0.5 * (variance_ratio + mean_term - 1.0 - torch.log(variance_ratio))
    return per_dim.sum(dim=1)
