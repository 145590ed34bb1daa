"""One-step Actor-Critic: the TD error of a learned critic weights the policy gradient.

Algorithm (seed 2、策略梯度 / :three: Actor-Critic, 核心思想, 损失函数, 梯度, 主要代码; Sutton &
Barto 2018, section 13.5), on batches of ``num_steps`` steps of ``num_envs`` environments,
each update being the update contract :func:`drlspec.updates.actor_critic_losses`:

1. ``y_t = r_t + gamma (1 - terminated_t) V(s_{t+1})`` by :func:`drlspec.returns.td_target`,
   ``V(s_{t+1})`` of the *true* next observation (a truncated step bootstraps; the seed's
   single ``dones`` mask would not);
2. critic: minimise ``mean (V(s_t) - y_t)^2`` with ``y_t`` held fixed;
3. actor: minimise :func:`drlspec.policy_losses.policy_gradient_loss` of
   ``log pi(a_t|s_t)`` weighted by the TD error ``delta_t = y_t - V(s_t)`` (detached: the
   seed's ``td_delta.detach()``).

Each target is one-step (no n-step returns); the batch only averages over ``num_steps * N``
transitions. Log-probabilities come from ``log_softmax``/``Normal.log_prob``, with integer
action indices (errata PG3, PG4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from drlspec.agents.config import BaseConfig, check_ranges
from drlspec.agents.guards import check_finite
from drlspec.agents.on_policy import PolicyAgent
from drlspec.agents.rollout import RolloutCollector
from drlspec.agents.run_folder import Run
from drlspec.agents.training import Training
from drlspec.policies import DistributionPolicy
from drlspec.updates import actor_critic_losses

__all__ = ["Config", "train"]


@dataclass
class Config(BaseConfig):
    """One-step Actor-Critic hyperparameters (the seed's: lr 1e-3 / 1e-2, gamma 0.98)."""

    total_steps: int = 200_000
    """environment steps to train for."""
    num_envs: int = 8
    """parallel environments."""
    num_steps: int = 4
    """steps per environment per update (one-step targets, averaged over the batch)."""
    actor_lr: float = 1e-3
    """Adam step size of the policy."""
    critic_lr: float = 1e-2
    """Adam step size of the value network."""
    gamma: float = 0.98
    """discount factor."""
    hidden_sizes: tuple[int, ...] = (128,)
    """hidden widths of the policy and the value network."""
    activation: str = "relu"
    """hidden activation: "tanh" or "relu"."""
    log_std_init: float = 0.0
    """initial log standard deviation of a Gaussian policy."""
    max_grad_norm: float = 0.5
    """gradient-norm clip (0 disables)."""
    anneal_lr: bool = False
    """anneal both step sizes linearly to 0 over training (steadies the final policy)."""

    def __post_init__(self) -> None:
        """The base fields' range checks, then those of the fields this class declares."""
        super().__post_init__()
        check_ranges(
            self,
            Config,
            unit_interval={"gamma"},
            non_negative={"max_grad_norm"},
            any_number={"log_std_init"},
        )


make_agent = PolicyAgent


def train(config: Config, run: Run, resume: dict[str, Any] | None = None) -> PolicyAgent:
    """Train one-step Actor-Critic for ``config.total_steps`` steps, logging into ``run``.

    ``resume``: a checkpoint written by this loop; training continues exactly where it stopped.
    """
    training = Training(config, run, resume, config.num_envs)
    agent = PolicyAgent(config, training.observation_space, training.action_space)
    policy = DistributionPolicy(agent.policy)
    actor_optimizer = torch.optim.Adam(agent.policy.parameters(), lr=config.actor_lr)
    critic_optimizer = torch.optim.Adam(agent.value.parameters(), lr=config.critic_lr)
    collector = RolloutCollector(
        training.envs, training.carry, agent.policy, run, agent.device, training.tracker
    )
    training.checkpoint(
        agent,
        collector.state,
        actor_optimizer=actor_optimizer,
        critic_optimizer=critic_optimizer,
    )
    step = training.start_step

    while step < config.total_steps:
        if config.anneal_lr:
            remaining = 1 - step / config.total_steps
            actor_optimizer.param_groups[0]["lr"] = config.actor_lr * remaining
            critic_optimizer.param_groups[0]["lr"] = config.critic_lr * remaining
        rollout, step = collector.collect(config.num_steps, step, log_probs=False)
        # 1-3. TD targets from the true next observations, the critic's regression onto them
        # and the TD-error-weighted score function: the update contract.
        actor_loss, critic_loss = actor_critic_losses(
            policy,
            agent.value,
            rollout.rows("observations"),
            rollout.rows("actions"),
            rollout.rows("rewards"),
            rollout.rows("next_observations"),
            rollout.rows("terminated"),
            config.gamma,
        )
        check_finite("critic loss", critic_loss, step)
        check_finite("actor loss", actor_loss, step)
        for optimizer, loss, module in (
            (actor_optimizer, actor_loss, agent.policy),
            (critic_optimizer, critic_loss, agent.value),
        ):
            optimizer.zero_grad()
            loss.backward()
            if config.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(module.parameters(), config.max_grad_norm)
            optimizer.step()
        run.log_update(
            step, actor_loss=float(actor_loss.detach()), critic_loss=float(critic_loss.detach())
        )
        training.tick(step)
    training.close()
    return agent
