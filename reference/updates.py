"""Update contracts: how a learning step wires networks, kernels and a batch together.

The kernels of :mod:`drlspec.value` say *what* a DQN target is; these functions say
which network each term comes from and where gradient may flow. They compose the
kernels: the DQN TD error is ``Q_theta(s, a) - dqn_target(...)`` with the target built
from the target network under ``no_grad``; the target-network update is the hard copy or
Polyak average every DQN-family agent performs every ``C`` steps.

The policy-gradient learning steps take a policy as the module
``policy(observations) -> torch.distributions.Distribution`` whose ``log_prob(actions)`` and
``entropy()`` are ``[B]`` (a ``Categorical`` of integer actions ``[B]``, or an ``Independent``
diagonal Gaussian of actions ``[B, K]``) and a value network ``observations -> [B]``:
:func:`reinforce_loss`, :func:`actor_critic_losses`, :func:`ppo_clip_loss` and
:func:`trpo_step`, which say where each term's gradient goes and which policy each
probability is taken under.

Seed: ``1、DQN`` (损失函数设计, 目标网络), ``:four: Double DQN``, ``2、策略梯度`` (``:two:
REINFORCE``, ``:three: Actor-Critic``), ``:four: TRPO``, ``:five: PPO``. The seed's DQN loss
formula evaluates the prediction with the target parameters (docs/errata.md E1); here the
prediction is the online network's and is the only term that carries gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from drlspec.checks import (
    check_floating,
    check_positive_int,
    check_scalar,
    check_shape,
    check_unit_interval,
)
from drlspec.policy_losses import policy_gradient_loss, ppo_clip_objective
from drlspec.returns import td_target
from drlspec.trust_region import (
    conjugate_gradient,
    fisher_vector_product,
    flat_grad,
    flat_params,
    kkt_step,
    line_search,
    set_flat_params,
)
from drlspec.value import double_dqn_target, dqn_target

__all__ = [
    "PPOLossTerms",
    "actor_critic_losses",
    "double_dqn_td_errors",
    "dqn_td_errors",
    "ppo_clip_loss",
    "ppo_clip_loss_terms",
    "reinforce_loss",
    "target_update",
    "trpo_step",
]


def _check_actions(actions: object, batch: int) -> torch.Tensor:
    if not isinstance(actions, torch.Tensor):
        raise TypeError(f"actions must be a torch.Tensor, got {type(actions).__name__}")
    if actions.dtype.is_floating_point or actions.dtype.is_complex or actions.dtype == torch.bool:
        raise TypeError(f"actions must be an integer tensor, got dtype {actions.dtype}")
    # [B], never [B, 1]: a [B, 1] prediction minus a [B] target broadcasts to [B, B].
    check_shape("actions", actions, [batch])
    return actions


def _predictions(
    q_network: nn.Module, observations: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """``Q_theta(s_i, a_i)``, shape ``[B]``: the only term that carries gradient."""
    q_values = q_network(observations)
    check_floating("q_network(observations)", q_values)
    check_shape("q_network(observations)", q_values, [actions.shape[0], "A"])
    return q_values.gather(1, actions.long().unsqueeze(1)).squeeze(1)


def dqn_td_errors(
    q_network: nn.Module,
    target_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    next_observations: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    r"""Per-sample DQN TD errors: online prediction minus a target-network target.

    .. math::
        \delta_i = Q_\theta(s_i, a_i) - y_i, \qquad
        y_i = r_i + \gamma\,(1 - \text{terminated}_i)\,\max_{a'} Q_{\theta^-}(s'_i, a')

    ``y`` is built under ``no_grad`` (:func:`drlspec.value.dqn_target`): the loss
    ``mean(delta**2)`` (or Huber) trains ``theta`` through ``Q_theta(s, a)`` only, and the
    target network receives no gradient and is not modified. ``|delta|`` is prioritized
    replay's new priority.

    Args:
        q_network: online network, ``observations[B, ...] -> [B, A]``.
        target_network: target network, same interface.
        observations: ``[B, ...]`` states ``s``.
        actions: ``[B]`` integer actions (indices into the ``A`` action values).
        rewards: ``[B]``.
        next_observations: ``[B, ...]`` true next states ``s'`` (before any auto-reset).
        terminated: ``[B]`` bool or 0/1 float; truncation is not an argument (it bootstraps).
        gamma: discount in ``[0, 1]``.

    Returns:
        ``[B]`` TD errors ``Q_theta(s, a) - y``, differentiable w.r.t. ``theta``.

    Seed: 1、DQN / 损失函数设计, 目标网络 (the seed's formula predicts with θ⁻: errata E1).
    Paper: Mnih et al. (2015), Algorithm 1.
    """
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["B"])
    actions = _check_actions(actions, rewards.shape[0])
    with torch.no_grad():
        targets = dqn_target(rewards, target_network(next_observations), terminated, gamma)
    return _predictions(q_network, observations, actions) - targets


def double_dqn_td_errors(
    q_network: nn.Module,
    target_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    next_observations: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    r"""Per-sample Double DQN TD errors: the online network selects ``a'``, the target evaluates.

    .. math::
        a^*_i = \arg\max_{a'} Q_\theta(s'_i, a'), \qquad
        y_i = r_i + \gamma\,(1 - \text{terminated}_i)\,Q_{\theta^-}(s'_i, a^*_i), \qquad
        \delta_i = Q_\theta(s_i, a_i) - y_i

    The selection uses ``theta`` but carries no gradient (an argmax has none, and ``y`` is
    built under ``no_grad``, :func:`drlspec.value.double_dqn_target`); ties in
    ``Q_theta(s', .)`` may be broken either way. Arguments and result as
    :func:`dqn_td_errors`.

    Seed: :four: Double DQN. Paper: van Hasselt, Guez & Silver (2016), eq. 4.
    """
    check_floating("rewards", rewards)
    check_shape("rewards", rewards, ["B"])
    actions = _check_actions(actions, rewards.shape[0])
    with torch.no_grad():
        targets = double_dqn_target(
            rewards,
            q_network(next_observations),
            target_network(next_observations),
            terminated,
            gamma,
        )
    return _predictions(q_network, observations, actions) - targets


def _tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Parameters then buffers, by name, in registration order."""
    return list(module.named_parameters()) + list(module.named_buffers())


@torch.no_grad()
def target_update(online: nn.Module, target: nn.Module, tau: float) -> None:
    r"""Move the target network towards the online network, in place.

    .. math::  \theta^- \leftarrow \tau\,\theta + (1 - \tau)\,\theta^-

    for every parameter **and** every floating-point buffer (batch-norm statistics; the
    contract also accepts copying those, stable-baselines3's rule); integer buffers
    (``num_batches_tracked``) are copied. ``tau = 1`` is the hard copy
    ``theta^- <- theta`` of DQN's target network, exact to the bit. The online network is
    not modified, and afterwards the two networks share no storage: the values are copied,
    never the tensors (``target_param.data = param.data`` would alias them).

    Args:
        online: the network whose values are copied (``theta``).
        target: a network of the same architecture (``theta^-``), updated in place.
        tau: weight of the online values, in ``(0, 1]``.

    Returns:
        ``None``.

    Seed: 1、DQN / 目标网络 (``θ⁻ ← θ`` every ``C`` steps). Papers: Mnih et al. (2015),
    Algorithm 1 (hard copy); Lillicrap et al. (2016), Algorithm 1 (soft update).
    """
    tau = check_unit_interval("tau", tau)
    if tau == 0.0:
        raise ValueError("tau must be > 0 (tau = 0 never updates the target network)")
    if online is target:
        raise ValueError("online and target are the same module: the target must be a copy")
    pairs = list(zip(_tensors(target), _tensors(online), strict=False))
    names_t = [name for name, _ in _tensors(target)]
    names_o = [name for name, _ in _tensors(online)]
    if names_t != names_o:
        raise ValueError("online and target must have the same parameters and buffers")
    for (name, t), (_, o) in pairs:
        if t.shape != o.shape:
            raise ValueError(f"{name}: target has shape {list(t.shape)}, online {list(o.shape)}")
        if tau == 1.0 or not t.is_floating_point():
            t.copy_(o)
        else:
            t.lerp_(o.to(t.dtype), tau)


# ---------------------------------------------------------------------------
# Policy-gradient learning steps
# ---------------------------------------------------------------------------


def _check_module(name: str, value: object) -> None:
    if not callable(value):
        raise TypeError(f"{name} must be a callable module, got {type(value).__name__}")


def _log_probs(policy: nn.Module, observations: torch.Tensor, actions: torch.Tensor):
    """``(pi(.|s), log pi(a|s))``: the distribution and ``[B]`` log-probabilities, with graph."""
    distribution = policy(observations)
    log_probs = distribution.log_prob(actions)
    check_shape("policy(observations).log_prob(actions)", log_probs, [observations.shape[0]])
    return distribution, log_probs


def _values(value_network: nn.Module, observations: torch.Tensor, what: str) -> torch.Tensor:
    values = value_network(observations)
    check_floating(what, values)
    # [B], never [B, 1]: a [B, 1] value minus a [B] target broadcasts to [B, B].
    check_shape(what, values, [observations.shape[0]])
    return values


def reinforce_loss(
    policy: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    returns: torch.Tensor,
) -> torch.Tensor:
    r"""REINFORCE's loss over a batch of steps, whose gradient is minus the policy gradient.

    .. math::  L(\theta) = -\frac1B \sum_i \log\pi_\theta(a_i \mid s_i)\, G_i

    ``returns`` (``G_i``, the reward-to-go, or ``G_i - b(s_i)`` with a baseline) are constants
    of the update: no gradient reaches whatever computed them.

    Args:
        policy: ``observations [B, ...] -> Distribution`` (module docstring).
        observations: ``[B, ...]``.
        actions: ``[B]`` integer actions, or ``[B, K]`` continuous ones.
        returns: ``[B]``.

    Returns:
        A scalar (0-d tensor).

    Seed: 2、策略梯度 / :two: REINFORCE (``loss = -log_prob * G``, one backward per step:
    the seed sums over the episode's steps where this averages over the batch, a step size
    convention). Paper: Williams (1992).
    """
    _check_module("policy", policy)
    check_floating("returns", returns)
    check_shape("returns", returns, ["B"])
    _, log_probs = _log_probs(policy, observations, actions)
    return policy_gradient_loss(log_probs, returns)


def actor_critic_losses(
    policy: nn.Module,
    value_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    next_observations: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One-step advantage actor-critic: the policy loss and the value loss of one batch.

    .. math::
        y_i = r_i + \gamma (1 - \text{terminated}_i)\, V(s'_i) \;\text{(no gradient)},
        \qquad \delta_i = y_i - V(s_i)

        L_\pi = -\frac1B \sum_i \log\pi_\theta(a_i|s_i)\, \delta_i \;(\delta\text{ detached}),
        \qquad L_V = \frac1B \sum_i (V(s_i) - y_i)^2

    The policy loss gives the value network no gradient (``delta`` is a constant weight) and
    the value loss gives the policy none; the critic regresses on a fixed target
    (semi-gradient TD: no gradient through ``V(s')``).

    Args:
        policy: ``observations -> Distribution`` (module docstring).
        value_network: ``observations [B, ...] -> [B]``.
        observations, next_observations: ``[B, ...]`` (``s'`` is the true next state).
        actions: ``[B]`` integer or ``[B, K]`` continuous.
        rewards: ``[B]``.
        terminated: ``[B]`` bool or 0/1 float (a truncated step bootstraps).
        gamma: discount in ``[0, 1]``.

    Returns:
        ``(policy_loss, value_loss)``, two scalars.

    Seed: 2、策略梯度 / :three: Actor-Critic (损失函数, 主要代码: ``td_delta.detach()``).
    Paper: Sutton & Barto (2018), section 13.5.
    """
    _check_module("policy", policy)
    _check_module("value_network", value_network)
    with torch.no_grad():
        next_values = _values(value_network, next_observations, "value_network(next_observations)")
    targets = td_target(rewards, next_values, terminated, gamma)
    values = _values(value_network, observations, "value_network(observations)")
    value_loss = (values - targets).pow(2).mean()
    td_errors = (targets - values).detach()
    _, log_probs = _log_probs(policy, observations, actions)
    return policy_gradient_loss(log_probs, td_errors), value_loss


class PPOLossTerms(NamedTuple):
    """PPO's minibatch loss and the terms it is made of (scalars, with graph)."""

    loss: torch.Tensor
    objective: torch.Tensor
    value_loss: torch.Tensor
    entropy: torch.Tensor


def ppo_clip_loss_terms(
    policy: nn.Module,
    value_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
) -> PPOLossTerms:
    """:func:`ppo_clip_loss` with its terms (what an agent logs)."""
    _check_module("policy", policy)
    _check_module("value_network", value_network)
    check_floating("returns", returns)
    check_shape("returns", returns, [observations.shape[0]])
    vf_coef = check_scalar("vf_coef", vf_coef, low=0.0, rule="finite and >= 0", show_float=True)
    ent_coef = check_scalar("ent_coef", ent_coef, low=0.0, rule="finite and >= 0", show_float=True)
    distribution, log_probs = _log_probs(policy, observations, actions)
    objective = ppo_clip_objective(log_probs, log_prob_old, advantages, clip_eps)
    entropy = distribution.entropy().mean()
    values = _values(value_network, observations, "value_network(observations)")
    value_loss = 0.5 * (values - returns.detach()).pow(2).mean()
    loss = -objective - ent_coef * entropy + vf_coef * value_loss
    return PPOLossTerms(loss, objective, value_loss, entropy)


def ppo_clip_loss(
    policy: nn.Module,
    value_network: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
) -> torch.Tensor:
    r"""PPO-Clip's minibatch loss: clipped surrogate, value regression and entropy bonus.

    .. math::
        \rho_i = \exp(\log\pi_\theta(a_i|s_i) - \log\pi_\text{old}(a_i|s_i)),

        L = -\frac1B\sum_i \min(\rho_i A_i,\ \operatorname{clip}(\rho_i, 1 \pm \epsilon) A_i)
            + c_v \cdot \tfrac12 \frac1B \sum_i (V(s_i) - R_i)^2
            - c_e \frac1B \sum_i H(\pi_\theta(\cdot|s_i))

    ``log_prob_old`` is the stored log-probability of the policy that collected the data: a
    constant (recomputing it from the current policy makes every ratio 1 and nothing is ever
    clipped). Advantages and returns are constants too; advantages are used as given (their
    normalisation is the caller's). The value term may carry the factor ``1/2`` (CleanRL) or
    not (the PPO paper's ``L^VF``, stable-baselines3): the contract accepts both.

    Args:
        policy: ``observations -> Distribution`` (module docstring).
        value_network: ``observations -> [B]``.
        observations: ``[B, ...]``; actions ``[B]`` integer or ``[B, K]`` continuous.
        log_prob_old, advantages, returns: ``[B]``.
        clip_eps: ``epsilon >= 0``. vf_coef, ent_coef: ``>= 0``.

    Returns:
        A scalar (0-d tensor), to be minimised.

    Seed: :five: PPO / PPO-Clip (the objective; the seed has no PPO code). Paper: Schulman
    et al. (2017), eq. 9.
    """
    return ppo_clip_loss_terms(
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
    ).loss


def trpo_step(
    policy: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    log_prob_old: torch.Tensor,
    advantages: torch.Tensor,
    max_kl: float,
    damping: float,
    cg_iters: int,
    backtrack: float,
    max_backtracks: int,
) -> torch.Tensor:
    r"""One TRPO policy update; returns the new flat parameters and leaves them in ``policy``.

    With ``pi_old`` the policy as given (``log_prob_old`` its log-probabilities),
    ``L(\theta) = \frac1B \sum_i \exp(\log\pi_\theta(a_i|s_i) - \log\pi_\text{old}(a_i|s_i)) A_i``
    and ``F`` the Hessian of the mean ``KL(pi_old || pi_theta)`` at ``theta_old``:

    1. ``g = grad L(theta_old)``; a zero gradient leaves the policy as it is;
    2. ``x ~ (F + damping I)^{-1} g`` by ``cg_iters`` conjugate-gradient iterations from 0;
    3. ``s = sqrt(2 max_kl / x^T (F + damping I) x) x`` (KKT step);
    4. the first ``theta_old + backtrack^j s``, ``j = 0 .. max_backtracks - 1``, whose mean
       ``KL(pi_old || pi_theta) <= max_kl`` and whose ``L`` exceeds ``L(theta_old)``; else
       ``theta_old``.

    Args:
        policy: an ``nn.Module``, ``observations -> Distribution`` whose
            ``torch.distributions.kl_divergence`` is defined; updated in place.
        observations: ``[B, ...]``; actions ``[B]`` integer or ``[B, K]`` continuous.
        log_prob_old: ``[B]`` log-probabilities of ``actions`` under the policy as given.
        advantages: ``[B]``.
        max_kl: ``delta > 0``. damping: ``>= 0``. cg_iters: ``>= 1``.
        backtrack: in ``(0, 1)``. max_backtracks: ``>= 1``.

    Returns:
        ``[P]`` the new parameters, flattened in ``policy.parameters()`` order.

    Seed: :four: TRPO (主要代码: ``policy_learn``). Paper: Schulman et al. (2015), appendix C.
    """
    if not isinstance(policy, nn.Module):
        raise TypeError(f"policy must be a torch.nn.Module, got {type(policy).__name__}")
    check_positive_int("cg_iters", cg_iters)
    log_prob_old = check_floating("log_prob_old", log_prob_old).detach()
    advantages = check_floating("advantages", advantages).detach()
    with torch.no_grad():
        old = policy(observations)

    def surrogate() -> torch.Tensor:
        _, log_probs = _log_probs(policy, observations, actions)
        return (torch.exp(log_probs - log_prob_old) * advantages).mean()

    def mean_kl() -> torch.Tensor:
        return torch.distributions.kl_divergence(old, policy(observations)).mean()

    gradient = flat_grad(surrogate(), policy)
    if not bool(gradient.abs().sum() > 0):
        return flat_params(policy)

    def fisher(vector: torch.Tensor) -> torch.Tensor:
        return fisher_vector_product(mean_kl, policy, vector, damping)

    direction = conjugate_gradient(fisher, gradient, cg_iters, 1e-10 * float(gradient @ gradient))
    full_step = kkt_step(direction, fisher(direction), max_kl)

    def objective_at(theta: torch.Tensor) -> torch.Tensor:
        set_flat_params(policy, theta)
        with torch.no_grad():
            return surrogate()

    def kl_at(theta: torch.Tensor) -> torch.Tensor:
        set_flat_params(policy, theta)
        with torch.no_grad():
            return mean_kl()

    theta_new = line_search(
        objective_at, kl_at, flat_params(policy), full_step, max_kl, backtrack, max_backtracks
    )
    set_flat_params(policy, theta_new)
    return theta_new
