"""Correct PPO-Clip losses written differently from the reference."""

import torch
import torch.nn.functional as F
from torch.func import functional_call


def cleanrl_style(
    policy,
    value_network,
    observations,
    actions,
    log_prob_old,
    advantages,
    returns,
    clip_eps,
    vf_coef,
    ent_coef,
):
    """CleanRL ``ppo.py``: ``max`` of the negated surrogates, value loss with the factor 1/2
    (no value clipping, advantages not normalised); the stored tensors detached, as CleanRL's
    buffers are filled under ``no_grad``."""
    distribution = policy(observations)
    newlogprob = distribution.log_prob(actions)
    entropy = distribution.entropy()
    newvalue = value_network(observations)
    logratio = newlogprob - log_prob_old.detach()
    ratio = logratio.exp()
    mb_advantages = advantages.detach()
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()
    newvalue = newvalue.view(-1)
    v_loss = 0.5 * ((newvalue - returns.detach()) ** 2).mean()
    entropy_loss = entropy.mean()
    return pg_loss - ent_coef * entropy_loss + v_loss * vf_coef


def sb3_style(
    policy,
    value_network,
    observations,
    actions,
    log_prob_old,
    advantages,
    returns,
    clip_eps,
    vf_coef,
    ent_coef,
):
    """stable-baselines3 ``PPO.train``: ``F.mse_loss`` (no 1/2), ``entropy_loss = -mean(H)``
    added with ``+ent_coef``, ``-th.min`` of the surrogates (``normalize_advantage`` off)."""
    distribution = policy(observations)
    log_prob = distribution.log_prob(actions)
    entropy = distribution.entropy()
    values = value_network(observations).flatten()
    ratio = torch.exp(log_prob - log_prob_old.detach())
    advantages = advantages.detach()
    policy_loss_1 = advantages * ratio
    policy_loss_2 = advantages * torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps)
    policy_loss = -torch.min(policy_loss_1, policy_loss_2).mean()
    value_loss = F.mse_loss(returns.detach(), values)
    entropy_loss = -torch.mean(entropy)
    return policy_loss + ent_coef * entropy_loss + vf_coef * value_loss


def float32_inside(
    policy,
    value_network,
    observations,
    actions,
    log_prob_old,
    advantages,
    returns,
    clip_eps,
    vf_coef,
    ent_coef,
):
    """The networks' outputs cast to float32 and every loss operation done in float32; the
    clip as a ``torch.where`` on the sign of the advantage, the sum divided by B."""
    distribution = policy(observations)
    log_probs = distribution.log_prob(actions).float()
    entropy = distribution.entropy().float()
    values = value_network(observations).float()
    old = log_prob_old.detach().float()
    a = advantages.detach().float()
    ratio = torch.exp(log_probs - old)
    # min(rho A, clip(rho) A): for A >= 0 the upper bound alone can bind, for A < 0 the lower.
    bound = torch.where(a >= 0, ratio.clamp(max=1 + clip_eps), ratio.clamp(min=1 - clip_eps))
    batch = a.shape[0]
    surrogate = (bound * a).sum() / batch
    value_loss = (values - returns.detach().float()).square().sum() / batch
    return -surrogate + vf_coef * value_loss - ent_coef * entropy.sum() / batch


def functional(
    policy,
    value_network,
    observations,
    actions,
    log_prob_old,
    advantages,
    returns,
    clip_eps,
    vf_coef,
    ent_coef,
):
    """``torch.func.functional_call`` with the modules' own parameters; the log-ratio
    clipped in log space (``clip(rho) = exp(clip(log rho, log(1-eps), log(1+eps)))``)."""
    policy_params = dict(policy.named_parameters()) | dict(policy.named_buffers())
    value_params = dict(value_network.named_parameters()) | dict(value_network.named_buffers())
    distribution = functional_call(policy, policy_params, (observations,))
    values = functional_call(value_network, value_params, (observations,))
    log_ratio = distribution.log_prob(actions) - log_prob_old.detach()
    high = torch.log1p(torch.tensor(clip_eps, dtype=log_ratio.dtype))
    low = torch.log(torch.tensor(max(1.0 - clip_eps, 0.0), dtype=log_ratio.dtype))
    clipped = torch.exp(torch.clamp(log_ratio, low.item(), high.item()))
    a = advantages.detach()
    objective = torch.minimum(torch.exp(log_ratio) * a, clipped * a)
    value_loss = 0.5 * torch.mean((values - returns.detach()) ** 2)
    return -objective.mean() + vf_coef * value_loss - ent_coef * distribution.entropy().mean()
