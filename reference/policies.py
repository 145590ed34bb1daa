"""Policy heads and the value network of the policy-gradient agents.

* :class:`CategoricalPolicy`: discrete actions, a softmax over the logits of an MLP.
* :class:`GaussianPolicy`: continuous actions, a diagonal Gaussian whose mean is an MLP of the
  observation and whose log standard deviation is a free parameter, the same in every state.
* :class:`ValueNetwork`: ``V(s)``, an MLP returning ``[B]``.

Each policy gives ``log_prob``, ``entropy``, ``sample`` and ``kl``; the KL goes through the
contracts :func:`drlspec.distributions.categorical_kl` and
:func:`drlspec.distributions.gaussian_kl`. ``policy.distribution(obs)`` is the same policy as a
``torch.distributions.Distribution`` (:class:`SoftmaxDistribution`, :class:`DiagonalGaussian`),
and :class:`DistributionPolicy` wraps a policy as the module the update contracts of
:mod:`drlspec.updates` take: ``policy(observations) -> Distribution``, the interface of
CleanRL's ``Categorical(logits=...)`` and stable-baselines3's ``get_distribution``.
Log-probabilities come from ``log_softmax`` and ``Normal.log_prob``, never from ``log(prob)``,
which is ``-inf`` once a probability underflows.

TRPO needs the mean KL between a frozen old policy and the current one, differentiable w.r.t.
the current parameters (its Fisher-vector product is the Hessian of that KL at the current
parameters). The pattern::

    old = policy.frozen_outputs(obs)     # detached distribution parameters
    mean_kl = policy.kl(obs, old).mean()  # D_KL(old || current), with graph

Seed: 2、策略梯度 / 策略参数化, ``:two: REINFORCE`` and ``:three: Actor-Critic`` (主要代码:
``PolicyNet``, ``ValueNet``), ``:four: TRPO`` (主要代码). The seed's ``PolicyNet`` returns
probabilities and its agents take ``torch.log`` of them and ``gather`` with float actions; see
docs/errata.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from drlspec.checks import check_floating, check_observations, check_positive_int
from drlspec.distributions import categorical_kl, gaussian_kl
from drlspec.networks import mlp

__all__ = [
    "CategoricalPolicy",
    "DiagonalGaussian",
    "DistributionPolicy",
    "GaussianPolicy",
    "SoftmaxDistribution",
    "ValueNetwork",
]


def _check_action_indices(actions: object, logits: torch.Tensor) -> torch.Tensor:
    if not isinstance(actions, torch.Tensor):
        raise TypeError(f"actions must be a torch.Tensor, got {type(actions).__name__}")
    if actions.is_floating_point() or actions.is_complex() or actions.dtype == torch.bool:
        raise TypeError(
            f"actions must be an integer (long) tensor of action indices, got dtype {actions.dtype}"
        )
    if actions.shape != logits.shape[:1]:
        raise ValueError(
            f"actions must have shape [{logits.shape[0]}] (one index per observation), "
            f"got {list(actions.shape)}"
        )
    n_actions = logits.shape[1]
    if actions.numel() and bool(((actions < 0) | (actions >= n_actions)).any()):
        raise ValueError(
            f"actions must lie in [0, {n_actions}), got values from "
            f"{int(actions.min())} to {int(actions.max())}"
        )
    return actions


class SoftmaxDistribution(torch.distributions.Distribution):
    r"""``pi(a|s) = softmax(logits)_a`` over ``[B, A]`` logits, as a torch distribution.

    ``log_prob`` is ``log_softmax`` then ``gather`` with integer actions ``[B]``, ``entropy``
    is ``-sum_a pi log pi`` from ``log_softmax``, and ``kl_divergence`` between two of them is
    :func:`drlspec.distributions.categorical_kl`: the numerics of :class:`CategoricalPolicy`.
    """

    arg_constraints: ClassVar[dict] = {}

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits
        super().__init__(batch_shape=logits.shape[:1], validate_args=False)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a|s)`` ``[B]`` of integer actions ``[B]``; float actions are refused."""
        _check_action_indices(actions, self.logits)
        log_probs = torch.log_softmax(self.logits, dim=1)
        return log_probs.gather(1, actions.long().to(self.logits.device).unsqueeze(1)).squeeze(1)

    def entropy(self) -> torch.Tensor:
        r"""``H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s)``, ``[B]``."""
        log_probs = torch.log_softmax(self.logits, dim=1)
        return -(log_probs.exp() * log_probs).sum(dim=1)


class DiagonalGaussian(torch.distributions.Distribution):
    r"""``N(mean, diag(std^2))`` over ``[B, K]`` actions; log_prob and entropy sum over ``K``."""

    arg_constraints: ClassVar[dict] = {}

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean_, self.std_ = mean, std
        self.normal = torch.distributions.Normal(mean, std)
        super().__init__(batch_shape=mean.shape[:1], validate_args=False)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a|s)`` ``[B]`` of actions ``[B, K]``: ``Normal.log_prob`` summed over ``K``."""
        check_floating("actions", actions)
        if actions.shape != self.mean_.shape:
            raise ValueError(
                f"actions must have shape {list(self.mean_.shape)}, got {list(actions.shape)}"
            )
        return self.normal.log_prob(actions.to(self.mean_.dtype)).sum(dim=1)

    def entropy(self) -> torch.Tensor:
        r"""``sum_k (1/2) log(2 pi e sigma_k^2)``, ``[B]``."""
        return self.normal.entropy().sum(dim=1)


@torch.distributions.kl.register_kl(SoftmaxDistribution, SoftmaxDistribution)
def _softmax_kl(p: SoftmaxDistribution, q: SoftmaxDistribution) -> torch.Tensor:
    return categorical_kl(p.logits, q.logits)


@torch.distributions.kl.register_kl(DiagonalGaussian, DiagonalGaussian)
def _gaussian_kl(p: DiagonalGaussian, q: DiagonalGaussian) -> torch.Tensor:
    return gaussian_kl(p.mean_, p.std_, q.mean_, q.std_)


class CategoricalPolicy(nn.Module):
    r"""A softmax policy over ``n_actions`` discrete actions.

    .. math::  \pi_\theta(a \mid s) = \operatorname{softmax}(f_\theta(s))_a

    ``forward(observations [B, obs_dim]) -> logits [B, n_actions]``. The distribution's
    parameters (what :meth:`frozen_outputs` returns and :meth:`kl` takes) are the logits.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.n_actions = check_positive_int("n_actions", n_actions)
        self.logits_net = mlp(obs_dim, hidden_sizes, n_actions, activation)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.logits_net(check_observations(observations, self.obs_dim))

    def outputs(self, observations: torch.Tensor) -> torch.Tensor:
        """The logits ``[B, n_actions]``, with graph."""
        return self(observations)

    @torch.no_grad()
    def frozen_outputs(self, observations: torch.Tensor) -> torch.Tensor:
        """The logits ``[B, n_actions]`` at the current parameters, detached: the old policy."""
        return self(observations).detach()

    def distribution(self, observations: torch.Tensor) -> SoftmaxDistribution:
        """``pi(.|s)`` as a :class:`SoftmaxDistribution` of the logits, with graph."""
        return SoftmaxDistribution(self(observations))

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a|s)`` ``[B]`` of integer actions ``[B]`` (``log_softmax``, then gather).

        Float actions are rejected: an index that went through a float tensor is a bug
        (``gather`` refuses float indices; ``Categorical.log_prob`` casts them with
        ``.long()``, truncating a fractional index once argument validation is off).
        """
        return self.distribution(observations).log_prob(actions)

    def entropy(self, observations: torch.Tensor) -> torch.Tensor:
        r"""``H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s)``, ``[B]``."""
        return self.distribution(observations).entropy()

    @torch.no_grad()
    def sample(
        self, observations: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Actions ``a ~ pi(.|s)``: a long tensor ``[B]`` (``generator`` on the policy's device)."""
        probabilities = torch.log_softmax(self(observations), dim=1).exp()
        return torch.multinomial(probabilities, 1, generator=generator).squeeze(1)

    @torch.no_grad()
    def sample_with_log_prob(
        self, observations: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, log pi(a|s))``, ``a ~ pi(.|s)``, from one forward pass: the values of
        :meth:`sample` and then :meth:`log_prob` (the same draws, the same bits), for a collector
        that stores the behaviour policy's log-probabilities."""
        log_probs = torch.log_softmax(self(observations), dim=1)
        actions = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)
        return actions, log_probs.gather(1, actions.unsqueeze(1)).squeeze(1)

    def kl(self, observations: torch.Tensor, old_logits: torch.Tensor) -> torch.Tensor:
        """``D_KL(old || current)`` per state ``[B]``, differentiable w.r.t. the current parameters.

        ``old_logits`` comes from :meth:`frozen_outputs`.
        """
        return categorical_kl(old_logits, self(observations))


class GaussianPolicy(nn.Module):
    r"""A diagonal Gaussian policy with a state-independent log standard deviation.

    .. math::
        \pi_\theta(a \mid s) = \prod_{k=1}^{K} \mathcal N\big(a_k;\, \mu_\theta(s)_k,\,
        e^{2 \log\sigma_k}\big)

    ``forward(observations [B, obs_dim]) -> (mean [B, K], std [B, K])``; ``log_std`` ``[K]``
    is an ``nn.Parameter`` initialised to ``log_std_init`` (Schulman et al. 2015, appendix D;
    Spinning Up's ``MLPGaussianActor``).
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_sizes: Sequence[int] = (64, 64),
        log_std_init: float = 0.0,
        activation: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.action_dim = check_positive_int("action_dim", action_dim)
        if isinstance(log_std_init, bool) or not isinstance(log_std_init, (int, float)):
            raise TypeError(f"log_std_init must be a number, got {type(log_std_init).__name__}")
        if not math.isfinite(log_std_init):
            raise ValueError(f"log_std_init must be finite, got {log_std_init}")
        self.mean_net = mlp(obs_dim, hidden_sizes, action_dim, activation)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.mean_net(check_observations(observations, self.obs_dim))
        return mean, self.log_std.exp().expand_as(mean)

    def outputs(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, std)``, each ``[B, K]``, with graph."""
        return self(observations)

    @torch.no_grad()
    def frozen_outputs(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, std)`` at the current parameters, detached: the old policy."""
        mean, std = self(observations)
        return mean.detach(), std.detach()

    def distribution(self, observations: torch.Tensor) -> DiagonalGaussian:
        """``pi(.|s)`` as a :class:`DiagonalGaussian`, with graph."""
        mean, std = self(observations)
        return DiagonalGaussian(mean, std)

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a|s)`` ``[B]`` of actions ``[B, K]``: ``Normal.log_prob`` summed over ``K``."""
        return self.distribution(observations).log_prob(actions)

    def entropy(self, observations: torch.Tensor) -> torch.Tensor:
        r"""``sum_k (1/2) log(2 pi e sigma_k^2)``, ``[B]`` (the same in every state)."""
        return self.distribution(observations).entropy()

    @torch.no_grad()
    def sample(
        self, observations: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Actions ``a = mean + std * z``, ``z ~ N(0, I)``: ``[B, K]``."""
        mean, std = self(observations)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + std * noise

    @torch.no_grad()
    def sample_with_log_prob(
        self, observations: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, log pi(a|s))``, ``a ~ pi(.|s)``, from one forward pass: the values of
        :meth:`sample` and then :meth:`log_prob` (the same draws, the same bits)."""
        mean, std = self(observations)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        actions = mean + std * noise
        return actions, DiagonalGaussian(mean, std).log_prob(actions)

    def kl(
        self, observations: torch.Tensor, old_outputs: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """``D_KL(old || current)`` per state ``[B]``; ``old_outputs`` is ``(mean, std)``."""
        old_mean, old_std = old_outputs
        mean, std = self(observations)
        return gaussian_kl(old_mean, old_std, mean, std)


class ValueNetwork(nn.Module):
    """``V(s)``: an MLP from observations ``[B, obs_dim]`` to values ``[B]``.

    Seed: :three: Actor-Critic / 主要代码 (``ValueNet``, which returns ``[B, 1]``; ``[B]``
    here, so that a TD target ``[B]`` is never broadcast against it into ``[B, B]``).
    """

    def __init__(
        self,
        obs_dim: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        self.obs_dim = check_positive_int("obs_dim", obs_dim)
        self.body = mlp(obs_dim, hidden_sizes, 1, activation)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.body(check_observations(observations, self.obs_dim)).squeeze(1)


class DistributionPolicy(nn.Module):
    """A policy head seen as the update contracts see a policy: ``observations -> Distribution``.

    ``DistributionPolicy(policy)(obs)`` is ``policy.distribution(obs)``; its parameters are the
    policy's, in the same order (``flat_params`` of either is the same vector).
    """

    def __init__(self, policy: CategoricalPolicy | GaussianPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, observations: torch.Tensor) -> torch.distributions.Distribution:
        return self.policy.distribution(observations)
