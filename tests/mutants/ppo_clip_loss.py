"""Wrong PPO-Clip losses: the wiring bugs of a PPO update (issue 17's list, library trackers)."""

import torch


def _parts(policy, value_network, observations, actions):
    distribution = policy(observations)
    return distribution.log_prob(actions), distribution.entropy(), value_network(observations)


def _loss(ratio, advantages, values, returns, entropy, clip_eps, vf_coef, ent_coef):
    # Each mutant has one bug: the stored tensors are detached unless that is the bug.
    advantages, returns = advantages.detach(), returns.detach()
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    policy_loss = -torch.minimum(ratio * advantages, clipped * advantages).mean()
    value_loss = 0.5 * (values - returns).pow(2).mean()
    return policy_loss + vf_coef * value_loss - ent_coef * entropy.mean()


def old_log_probs_recomputed(
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
    """The "old" log-probabilities are recomputed from the current policy (detached) instead
    of the stored ones: every ratio is 1, so nothing is ever clipped and PPO degenerates into a
    plain policy gradient taking unbounded steps over its epochs."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_probs.detach())
    return _loss(ratio, advantages, values, returns, entropy, clip_eps, vf_coef, ent_coef)


def entropy_bonus_wrong_sign(
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
    """Adds ``ent_coef * mean H`` to the loss (the sign of the bonus confused with that of an
    "entropy loss"): minimising it *lowers* entropy and collapses exploration."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_prob_old.detach())
    return _loss(ratio, advantages, values, returns, entropy, clip_eps, vf_coef, -ent_coef)


def max_instead_of_min(
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
    """``max`` of the unclipped and clipped surrogate (CleanRL's ``torch.max`` of the *negated*
    terms copied onto the un-negated ones): an optimistic bound, the clip never binds."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_prob_old.detach())
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    advantages, returns = advantages.detach(), returns.detach()
    policy_loss = -torch.maximum(ratio * advantages, clipped * advantages).mean()
    value_loss = 0.5 * (values - returns).pow(2).mean()
    return policy_loss + vf_coef * value_loss - ent_coef * entropy.mean()


def advantage_clipped_instead_of_ratio(
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
    """``ratio * clamp(advantages, 1 - eps, 1 + eps)``: the clamp put on the wrong factor."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_prob_old.detach())
    advantages, returns = advantages.detach(), returns.detach()
    clipped = ratio * torch.clamp(advantages, 1.0 - clip_eps, 1.0 + clip_eps)
    policy_loss = -torch.minimum(ratio * advantages, clipped).mean()
    value_loss = 0.5 * (values - returns).pow(2).mean()
    return policy_loss + vf_coef * value_loss - ent_coef * entropy.mean()


def advantages_normalised_inside(
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
    """Normalises the advantages inside the loss (CleanRL's ``norm_adv``, SB3's
    ``normalize_advantage``, both on by default): the contract uses them as given, and a
    minibatch of 1 gives ``nan`` (the std of one value)."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_prob_old.detach())
    normalised = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    return _loss(ratio, normalised, values, returns, entropy, clip_eps, vf_coef, ent_coef)


def value_term_without_vf_coef(
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
    """The value loss is added with weight 1 whatever ``vf_coef`` says."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_prob_old.detach())
    return _loss(ratio, advantages, values, returns, entropy, clip_eps, 1.0, ent_coef)


def log_prob_old_not_detached(
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
    """Uses ``log_prob_old`` with whatever graph it carries: when the old log-probabilities
    were computed with gradient (no ``no_grad`` at collection, or from the same forward pass in
    the first epoch), backward reaches them and, from the same graph, the ratio's gradient
    cancels to 0."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_prob_old)
    return _loss(ratio, advantages, values, returns, entropy, clip_eps, vf_coef, ent_coef)


def ratio_as_probability_quotient(
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
    """``rho = exp(log pi) / exp(log_prob_old)``: ``0/0 = nan`` once the log-probabilities
    fall below ``log`` of the smallest float (continuous actions in a narrow Gaussian's tail)."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs) / torch.exp(log_prob_old.detach())
    return _loss(
        ratio, advantages.detach(), values, returns.detach(), entropy, clip_eps, vf_coef, ent_coef
    )


def values_as_column(
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
    """Value predictions kept as ``[B, 1]`` (a critic head's shape) against returns ``[B]``:
    ``(values - returns) ** 2`` broadcasts to ``[B, B]``, every prediction regressed on every
    return (stable-baselines3 flattens, CleanRL calls ``view(-1)``, for this reason)."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_prob_old.detach())
    return _loss(
        ratio,
        advantages.detach(),
        values.reshape(-1, 1),
        returns.detach(),
        entropy,
        clip_eps,
        vf_coef,
        ent_coef,
    )


def returns_with_gradient(
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
    """The value target ``R`` keeps its graph: the regression pulls the target too (the returns
    were computed from the value network's bootstrap without ``no_grad``)."""
    log_probs, entropy, values = _parts(policy, value_network, observations, actions)
    ratio = torch.exp(log_probs - log_prob_old.detach())
    loss = _loss(ratio, advantages, values, returns, entropy, clip_eps, 0.0, ent_coef)
    return loss + vf_coef * 0.5 * (values - returns).pow(2).mean()
