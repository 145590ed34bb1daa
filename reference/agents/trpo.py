"""TRPO: a natural-gradient step scaled onto a KL trust region, then a backtracking line search.

Algorithm (seed 2、策略梯度 / :four: TRPO: 策略目标, 泰勒近似, KKT 条件推导, 共轭梯度,
矩阵 - 向量乘积的梯度表示, 线性搜索, 广义优势估计 GAE, 主要代码; Schulman et al. 2015,
appendix C), per iteration:

1. collect ``num_steps`` steps of ``num_envs`` environments with ``pi_old``; advantages by
   :func:`drlspec.returns.gae` (true next observations: a truncated step bootstraps);
Steps 2-5 are the update contract :func:`drlspec.updates.trpo_step`:

2. ``g`` = gradient of the surrogate ``L(theta) = mean(exp(log pi_theta - log pi_old) A)`` at
   ``theta_old``;
3. ``x ~ F^{-1} g`` by :func:`drlspec.trust_region.conjugate_gradient`, with ``F v`` the
   damped Fisher-vector product :func:`drlspec.trust_region.fisher_vector_product`
   (the Hessian of the mean ``KL(pi_old || pi_theta)``, by double backward);
4. the full step :func:`drlspec.trust_region.kkt_step` puts ``0.5 s^T F s = max_kl``;
5. :func:`drlspec.trust_region.line_search` backtracks until the true surrogate improves and
   the true mean KL is ``<= max_kl`` (or keeps ``theta_old``);
6. the value network regresses onto the GAE returns ``A + V`` for ``value_epochs`` epochs of
   minibatches with Adam.

The residual tolerance of CG is relative (``1e-10 * g.g``) so that a small late-training
gradient is not taken as already solved by ``x = 0`` (see ``conjugate_gradient``). A zero
gradient (every advantage 0) skips the policy step: no direction exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from drlspec.agents.config import BaseConfig, check_minibatch, check_ranges
from drlspec.agents.guards import check_finite
from drlspec.agents.on_policy import PolicyAgent, advantages_and_returns, standardise
from drlspec.agents.rollout import RolloutCollector
from drlspec.agents.run_folder import Run
from drlspec.agents.training import Training
from drlspec.policies import DistributionPolicy
from drlspec.updates import trpo_step

__all__ = ["Config", "train"]


@dataclass
class Config(BaseConfig):
    """TRPO hyperparameters (the defaults train on CartPole-v1)."""

    total_steps: int = 100_000
    """environment steps to train for."""
    num_envs: int = 8
    """parallel environments."""
    num_steps: int = 128
    """steps per environment per rollout."""
    gamma: float = 0.99
    """discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    max_kl: float = 0.01
    """trust-region size delta (mean KL)."""
    cg_iters: int = 10
    """conjugate-gradient iterations."""
    damping: float = 0.1
    """Fisher damping: CG solves (F + damping I) x = g."""
    backtrack: float = 0.8
    """line-search shrink factor."""
    max_backtracks: int = 10
    """line-search candidates."""
    value_lr: float = 1e-3
    """Adam step size of the value network."""
    value_epochs: int = 10
    """value-regression passes per rollout."""
    minibatch_size: int = 128
    """samples per value gradient step (at most one rollout, num_envs * num_steps)."""
    normalize_advantages: bool = True
    """standardise the rollout's advantages."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden widths of the policy and the value network."""
    activation: str = "tanh"
    """hidden activation: "tanh" or "relu"."""
    log_std_init: float = 0.0
    """initial log standard deviation of a Gaussian policy."""

    def __post_init__(self) -> None:
        """The base fields' range checks, then those of the fields this class declares."""
        super().__post_init__()
        check_ranges(
            self,
            Config,
            unit_interval={"gamma", "gae_lambda", "backtrack"},
            non_negative={"damping"},
            any_number={"log_std_init"},
        )
        check_minibatch(self)


make_agent = PolicyAgent


def policy_step(agent: PolicyAgent, config: Config, obs, actions, old_log_probs, advantages):
    """Steps 2-5 (the update contract :func:`drlspec.updates.trpo_step`); logs (surrogate, kl)."""
    policy = agent.policy
    old_outputs = policy.frozen_outputs(obs)
    trpo_step(
        DistributionPolicy(policy),
        obs,
        actions,
        old_log_probs,
        advantages,
        config.max_kl,
        config.damping,
        config.cg_iters,
        config.backtrack,
        config.max_backtracks,
    )
    with torch.no_grad():
        ratio = torch.exp(policy.log_prob(obs, actions) - old_log_probs)
        surrogate = (ratio * advantages).mean()
        mean_kl = policy.kl(obs, old_outputs).mean()
    return float(surrogate), float(mean_kl)


def train(config: Config, run: Run, resume: dict[str, Any] | None = None) -> PolicyAgent:
    """Train TRPO for ``config.total_steps`` environment steps, logging into ``run``.

    ``resume``: a checkpoint written by this loop; training continues exactly where it stopped.
    """
    training = Training(config, run, resume, config.num_envs)
    rng = training.rng
    agent = PolicyAgent(config, training.observation_space, training.action_space)
    value_optimizer = torch.optim.Adam(agent.value.parameters(), lr=config.value_lr)
    collector = RolloutCollector(
        training.envs, training.carry, agent.policy, run, agent.device, training.tracker
    )
    training.checkpoint(agent, collector.state, value_optimizer=value_optimizer)
    step = training.start_step

    while step < config.total_steps:
        # 1. Rollout and GAE.
        rollout, step = collector.collect(config.num_steps, step)
        advantages, returns = advantages_and_returns(
            agent, rollout, config.gamma, config.gae_lambda
        )
        advantages, returns = rollout.rows(advantages), rollout.rows(returns)
        transitions = advantages.shape[0]  # T * N, less any next-step reset rows
        if config.normalize_advantages:
            advantages = standardise(advantages)
        obs, actions = rollout.rows("observations"), rollout.rows("actions")
        # 2-5. The trust-region policy step.
        surrogate, kl = policy_step(
            agent, config, obs, actions, rollout.rows("log_probs"), advantages
        )
        check_finite("surrogate", surrogate, step)
        # 6. Value regression onto the GAE returns.
        for _ in range(config.value_epochs):
            order = torch.from_numpy(rng.permutation(transitions)).to(agent.device)
            for start in range(0, transitions, config.minibatch_size):
                index = order[start : start + config.minibatch_size]
                value_loss = (agent.value(obs[index]) - returns[index]).pow(2).mean()
                check_finite("value loss", value_loss, step)
                value_optimizer.zero_grad()
                value_loss.backward()
                value_optimizer.step()
        run.log_update(step, surrogate=surrogate, kl=kl, value_loss=float(value_loss.detach()))
        training.tick(step)
    training.close()
    return agent
