"""Policy heads and the value network of the policy-gradient agents.

* :class:`CategoricalPolicy`: discrete actions, a softmax over the logits of an MLP.
* :class:`GaussianPolicy`: continuous actions, a diagonal Gaussian whose mean is an MLP of the
  observation and whose log standard deviation is a free parameter, the same in every state.
* :class:`ValueNetwork`: ``V(s)``, an MLP returning ``[B]``.

Each policy gives ``log_prob``, ``entropy``, ``sample`` and ``kl``; the KL goes through the
contracts :func:`drlspec.distributions.categorical_kl` and
:func:`drlspec.distributions.gaussian_kl`. Log-probabilities come from ``log_softmax`` and
``Normal.log_prob``, never from ``log(prob)``, which is ``-inf`` once a probability underflows.

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

import torch
from torch import nn

from drlspec.checks import check_floating, check_observations, check_positive_int
from drlspec.distributions import categorical_kl, gaussian_kl
from drlspec.networks import mlp

__all__ = ["CategoricalPolicy", "GaussianPolicy", "ValueNetwork"]


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

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a|s)`` ``[B]`` of integer actions ``[B]`` (``log_softmax``, then gather).

        Float actions are rejected: an index that went through a float tensor is a bug
        (``gather`` refuses float indices; ``Categorical.log_prob`` casts them with
        ``.long()``, truncating a fractional index once argument validation is off).
        """
        logits = self(observations)
        if not isinstance(actions, torch.Tensor):
            raise TypeError(f"actions must be a torch.Tensor, got {type(actions).__name__}")
        if actions.is_floating_point() or actions.is_complex() or actions.dtype == torch.bool:
            raise TypeError(
                f"actions must be an integer (long) tensor of action indices, got dtype "
                f"{actions.dtype}"
            )
        if actions.shape != logits.shape[:1]:
            raise ValueError(
                f"actions must have shape [{logits.shape[0]}] (one index per observation), "
                f"got {list(actions.shape)}"
            )
        if actions.numel() and bool(((actions < 0) | (actions >= self.n_actions)).any()):
            raise ValueError(
                f"actions must lie in [0, {self.n_actions}), got values from "
                f"{int(actions.min())} to {int(actions.max())}"
            )
        log_probs = torch.log_softmax(logits, dim=1)
        return log_probs.gather(1, actions.long().to(logits.device).unsqueeze(1)).squeeze(1)

    def entropy(self, observations: torch.Tensor) -> torch.Tensor:
        r"""``H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s)``, ``[B]``."""
        log_probs = torch.log_softmax(self(observations), dim=1)
        return -(log_probs.exp() * log_probs).sum(dim=1)

    @torch.no_grad()
    def sample(
        self, observations: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Actions ``a ~ pi(.|s)``: a long tensor ``[B]`` (``generator`` on the policy's device)."""
        probabilities = torch.log_softmax(self(observations), dim=1).exp()
        return torch.multinomial(probabilities, 1, generator=generator).squeeze(1)

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

    def _distribution(self, observations: torch.Tensor) -> torch.distributions.Normal:
        mean, std = self(observations)
        return torch.distributions.Normal(mean, std)

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a|s)`` ``[B]`` of actions ``[B, K]``: ``Normal.log_prob`` summed over ``K``."""
        check_floating("actions", actions)
        distribution = self._distribution(observations)
        if actions.shape != distribution.loc.shape:
            raise ValueError(
                f"actions must have shape {list(distribution.loc.shape)}, got {list(actions.shape)}"
            )
        return distribution.log_prob(actions.to(distribution.loc.dtype)).sum(dim=1)

    def entropy(self, observations: torch.Tensor) -> torch.Tensor:
        r"""``sum_k (1/2) log(2 pi e sigma_k^2)``, ``[B]`` (the same in every state)."""
        return self._distribution(observations).entropy().sum(dim=1)

    @torch.no_grad()
    def sample(
        self, observations: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Actions ``a = mean + std * z``, ``z ~ N(0, I)``: ``[B, K]``."""
        mean, std = self(observations)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + std * noise

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
