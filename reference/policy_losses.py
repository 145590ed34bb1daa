"""Policy-gradient losses: the REINFORCE loss, PPO's clipped and KL-penalised surrogates, and
PPO's adaptive penalty coefficient.

Seed: ``2、策略梯度`` (``:two: REINFORCE``, ``:three: Actor-Critic``) and ``:five: PPO``
(``PPO-Penalty``, ``PPO-Clip``).

Conventions shared by the kernels below:

* Every tensor argument is a flat batch ``[B]`` of samples ``(s_i, a_i)``, ``B >= 1``; each
  result is a mean over the batch, so it does not depend on how many samples were drawn.
* The PPO objectives are *objectives*, to be maximised (the seed writes ``argmax``); an
  optimiser minimises their negation. :func:`policy_gradient_loss` is a *loss*.
* Only ``log_probs``/``log_prob_new`` (and ``kl``) carry the gradient of the current policy.
  Weights, advantages and the old policy's log-probabilities are data gathered before the
  update: the kernels detach them, so a critic's graph never leaks into the actor's update
  (the seed's Actor-Critic has to remember ``td_delta.detach()`` for this).
"""

from __future__ import annotations

import torch

from drlspec.checks import check_floating, check_same_device, check_scalar, check_shape

__all__ = ["adapt_kl_beta", "kl_penalty_objective", "policy_gradient_loss", "ppo_clip_objective"]


def _check_batch(name: str, x: object, batch: int | None = None) -> torch.Tensor:
    """A floating ``[B]`` tensor with ``B >= 1`` (a mean over no samples is undefined)."""
    tensor = check_floating(name, x)
    check_shape(name, tensor, ["B"] if batch is None else [batch])
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape [0]")
    return tensor


def policy_gradient_loss(log_probs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    r"""The score-function (REINFORCE) loss, whose gradient is minus the policy gradient.

    .. math::  L(\theta) = -\frac{1}{B} \sum_{i=1}^{B} \log \pi_\theta(a_i \mid s_i) \, w_i

    ``w_i`` is whatever estimates :math:`Q_{\pi_\theta}(s_i, a_i)`: the reward-to-go ``G_t``
    (REINFORCE), an advantage or a TD error (Actor-Critic). It is a constant of the update:
    it is detached here, so :math:`\nabla_\theta L = -\frac1B \sum_i w_i \nabla_\theta \log
    \pi_\theta(a_i|s_i)` even when ``weights`` comes out of a critic with a graph.

    Args:
        log_probs: ``[B]`` log-probabilities ``log pi(a_i|s_i)`` of the taken actions, with
            the policy's graph (from ``log_softmax``/``Normal.log_prob``, never
            ``log(prob)``).
        weights: ``[B]`` returns or advantages.

    Returns:
        A scalar (0-d tensor) in the dtype of ``log_probs``.

    Seed: 2、策略梯度 / :two: REINFORCE (``loss = -dist_log_prob * G``), :three: Actor-Critic
    (``actor_loss = torch.mean(-log_probs * td_delta.detach())``). Paper: Williams (1992);
    Sutton & Barto (2018), eq. 13.8.
    """
    _check_batch("log_probs", log_probs)
    _check_batch("weights", weights, log_probs.shape[0])
    check_same_device(log_probs=log_probs, weights=weights)
    return -(log_probs * weights.detach().to(log_probs.dtype)).mean()


def _ratio(log_prob_new: torch.Tensor, log_prob_old: torch.Tensor) -> torch.Tensor:
    # exp of the difference, not a quotient of probabilities: both log-probabilities may be
    # far below log(smallest float) while their difference is small.
    return torch.exp(log_prob_new - log_prob_old.detach().to(log_prob_new.dtype))


def ppo_clip_objective(
    log_prob_new: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    clip_eps: float,
) -> torch.Tensor:
    r"""PPO's clipped surrogate objective (to be maximised).

    .. math::
        \rho_i = \exp(\log\pi_{\theta}(a_i|s_i) - \log\pi_{\theta_\text{old}}(a_i|s_i)),
        \qquad
        L^\text{CLIP} = \frac1B \sum_i \min\big(\rho_i A_i,\;
        \operatorname{clip}(\rho_i, 1-\epsilon, 1+\epsilon) A_i\big)

    The minimum makes ``L^CLIP`` a pessimistic bound of the plain surrogate
    :math:`\frac1B\sum_i \rho_i A_i` (never above it, equal to it while every ratio is in
    ``[1-eps, 1+eps]``). Its gradient w.r.t. ``log_prob_new`` is zero exactly where the clip
    binds (``A > 0`` and ``rho > 1+eps``, or ``A < 0`` and ``rho < 1-eps``) and
    :math:`\rho_i A_i / B` elsewhere: moving further in the advantage's direction earns
    nothing, moving back is still rewarded.

    Args:
        log_prob_new: ``[B]`` log-probabilities under the policy being optimised (with graph).
        log_prob_old: ``[B]`` log-probabilities under the policy that collected the data.
        advantages: ``[B]`` advantage estimates (normalised or not: the kernel does not care).
        clip_eps: ``epsilon >= 0``; ``0`` allows no improvement beyond ``rho = 1``, a very
            large value recovers the unclipped surrogate.

    Returns:
        A scalar (0-d tensor) in the dtype of ``log_prob_new``.

    Seed: :five: PPO / PPO-Clip. Paper: Schulman et al. (2017), eq. 7.
    """
    _check_batch("log_prob_new", log_prob_new)
    batch = log_prob_new.shape[0]
    _check_batch("log_prob_old", log_prob_old, batch)
    _check_batch("advantages", advantages, batch)
    epsilon = check_scalar("clip_eps", clip_eps, low=0.0, rule="finite and >= 0", show_float=True)
    check_same_device(log_prob_new=log_prob_new, log_prob_old=log_prob_old, advantages=advantages)

    ratio = _ratio(log_prob_new, log_prob_old)
    advantages = advantages.detach().to(log_prob_new.dtype)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - epsilon, 1.0 + epsilon) * advantages
    return torch.minimum(unclipped, clipped).mean()


def kl_penalty_objective(
    log_prob_new: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    kl: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    r"""PPO's KL-penalised surrogate objective (to be maximised).

    .. math::
        L^\text{KLPEN} = \frac1B \sum_i \big(\rho_i A_i - \beta \, \mathrm{KL}_i\big),
        \qquad \rho_i = \exp(\log\pi_\theta(a_i|s_i) - \log\pi_{\theta_\text{old}}(a_i|s_i))

    ``KL_i`` is :math:`D_\mathrm{KL}(\pi_{\theta_\text{old}}(\cdot|s_i) \,\|\,
    \pi_\theta(\cdot|s_i))` (old policy first, as in Schulman et al.; see
    :func:`drlspec.distributions.categorical_kl` / :func:`~drlspec.distributions.gaussian_kl`)
    or any per-sample estimate of it; estimates may be negative and are used as given. ``kl``
    keeps its graph: the penalty is what pulls the new policy back towards the old one.

    Args:
        log_prob_new: ``[B]`` log-probabilities under the policy being optimised (with graph).
        log_prob_old: ``[B]`` log-probabilities under the data-collecting policy.
        advantages: ``[B]`` advantage estimates.
        kl: ``[B]`` per-state KL between the old and the new policy (with graph).
        beta: penalty coefficient ``>= 0``; ``0`` gives the plain surrogate. Adapted between
            updates by :func:`adapt_kl_beta`.

    Returns:
        A scalar (0-d tensor) in the dtype of ``log_prob_new``.

    Seed: :five: PPO / PPO-Penalty. Paper: Schulman et al. (2017), eq. 8.
    """
    _check_batch("log_prob_new", log_prob_new)
    batch = log_prob_new.shape[0]
    _check_batch("log_prob_old", log_prob_old, batch)
    _check_batch("advantages", advantages, batch)
    _check_batch("kl", kl, batch)
    beta = check_scalar("beta", beta, low=0.0, rule="finite and >= 0", show_float=True)
    check_same_device(
        log_prob_new=log_prob_new, log_prob_old=log_prob_old, advantages=advantages, kl=kl
    )

    ratio = _ratio(log_prob_new, log_prob_old)
    surrogate = ratio * advantages.detach().to(log_prob_new.dtype)
    return (surrogate - beta * kl.to(log_prob_new.dtype)).mean()


def adapt_kl_beta(beta: float, kl: float, target_kl: float) -> float:
    r"""PPO's adaptive KL coefficient, applied after each policy update.

    .. math::
        \beta_{k+1} = \begin{cases}
            \beta_k / 2 & d < d_\text{targ} / 1.5 \\
            2 \beta_k   & d > 1.5 \, d_\text{targ} \\
            \beta_k     & \text{otherwise (both boundaries included)}
        \end{cases}

    ``d`` is the mean KL between the old and the updated policy. The band
    ``[d_targ / 1.5, 1.5 d_targ]`` is where ``beta`` is left alone; the seed's rule
    (``d > delta / 1.5`` doubles) has no such band and doubles ``beta`` whenever the KL is
    merely near the target (docs/errata.md).

    Args:
        beta: current coefficient, ``> 0`` (halving and doubling never leave the positives).
        kl: measured mean KL, a finite number (a sample estimate may be slightly negative;
            that counts as below the target).
        target_kl: the target ``d_targ > 0``.

    Returns:
        The new coefficient, a Python float.

    Seed: :five: PPO / PPO-Penalty (β 更新规则). Paper: Schulman et al. (2017), section 4.
    """
    beta = check_scalar("beta", beta, low=0.0, strict=True, rule="finite and > 0", show_float=True)
    kl = check_scalar("kl", kl, rule="finite and >= -inf", show_float=True)
    target_kl = check_scalar(
        "target_kl", target_kl, low=0.0, strict=True, rule="finite and > 0", show_float=True
    )
    if kl < target_kl / 1.5:
        return beta / 2.0
    if kl > target_kl * 1.5:
        return beta * 2.0
    return beta
