"""torchrl's PPO objectives and KL-penalty coefficient as the ``ppo_clip_objective``,
``kl_penalty_objective`` and ``adapt_kl_beta`` contracts (torchrl 0.14.1).

The objectives are inline in the losses' ``forward`` (``torchrl/objectives/ppo.py``); the
adapters transcribe the lines that make them from ``log_weight = log_prob - prev_log_prob``
(``PPOLoss._log_weight``, line 894), with no behaviour-ratio cap (``log_is_weight =
None``), no advantage normalisation and ``reduction="mean"`` (the default), and return
``-loss_objective``. torchrl keeps ``clip_epsilon`` and ``beta`` in buffers made with
``torch.tensor(x)`` (lines 1523 and 1903): float32, torch's default dtype.
"""

from __future__ import annotations

import torch

from peers.checks import Check

__all__ = ["adapt_kl_beta", "clip_ppo_objective", "klpen_ppo_objective"]


def clip_ppo_objective(log_prob_new, log_prob_old, advantages, clip_eps):
    """``ClipPPOLoss.forward``, lines 1629-1638: the log-ratio is clamped to
    ``[log1p(-eps), log1p(eps)]`` (``_clip_bounds``, lines 1557-1566)."""
    clip_epsilon = torch.tensor(clip_eps, device=log_prob_new.device)
    log_weight = (log_prob_new - log_prob_old).unsqueeze(-1)
    advantage = advantages.unsqueeze(-1)
    gain1 = log_weight.exp() * advantage
    log_weight_clip = log_weight.clamp((-clip_epsilon).log1p(), clip_epsilon.log1p())
    ratio = log_weight_clip.exp()
    gain2 = ratio * advantage
    gain = torch.stack([gain1, gain2], -1).min(dim=-1).values
    return -(-gain).mean()


def klpen_ppo_objective(log_prob_new, log_prob_old, advantages, kl, beta):
    """``KLPENPPOLoss.forward``, lines 2004 and 2040-2041, with the contract's ``kl``
    (torchrl computes it from the two distributions, lines 2010-2039)."""
    beta = torch.tensor(beta, device=log_prob_new.device)
    log_weight = (log_prob_new - log_prob_old).unsqueeze(-1)
    neg_loss = log_weight.exp() * advantages.unsqueeze(-1)
    neg_loss = neg_loss - beta * kl.unsqueeze(-1)
    return -(-neg_loss).mean()


def adapt_kl_beta(beta, kl, target_kl):
    """``KLPENPPOLoss.forward``, lines 2042-2045, with the defaults ``increment = 2`` and
    ``decrement = 0.5`` and ``kl`` the batch's mean KL."""
    beta_buffer = torch.tensor(beta)
    kl = torch.as_tensor(kl)
    if kl.mean() > target_kl * 1.5:
        beta_buffer.data *= 2
    elif kl.mean() < target_kl / 1.5:
        beta_buffer.data *= 0.5
    return float(beta_buffer)


CHECKS = [
    Check(
        "ppo_clip_objective",
        "peers.torchrl_policy:clip_ppo_objective",
        frozenset(
            {
                "test_ratio_from_log_probabilities_near_the_floor",
                "test_huge_eps_recovers_surrogate",
                "test_gradient_zero_exactly_where_clip_binds",
            }
        ),
        "NaN for clip_epsilon > 1: the lower bound log1p(-eps) is NaN",
    ),
    Check("kl_penalty_objective", "peers.torchrl_policy:klpen_ppo_objective"),
    Check("adapt_kl_beta", "peers.torchrl_policy:adapt_kl_beta"),
]
