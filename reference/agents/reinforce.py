"""REINFORCE: Monte Carlo policy gradient, with an optional learned value baseline.

Algorithm (seed 2、策略梯度 / :two: REINFORCE, 主要代码; Williams 1992; Sutton & Barto 2018,
section 13.3-13.4): play ``episodes_per_update`` whole episodes with ``pi_theta``, then

1. reward-to-go ``G_t = r_t + gamma (1 - done_t) G_{t+1}`` by
   :func:`drlspec.returns.discounted_returns`, cut at every episode end. An episode cut by a
   time limit (truncated) did not end: with a baseline, its last reward gets
   ``gamma V(s_{T})`` of the true final observation added first, so ``G`` estimates the
   infinite-horizon return; without one, nothing can stand in for the missing tail;
2. minimise the update contract :func:`drlspec.updates.reinforce_loss` with weights ``G_t`` or
   ``G_t - V(s_t)`` (baseline: Sutton & Barto, eq. 13.11), and regress ``V`` onto ``G_t``.

The seed accumulates ``-log pi * G`` step by step with one ``backward`` per step (a sum); the
loss here is the mean over the batch, the same direction with a step size independent of the
episode length.
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
from drlspec.returns import discounted_returns
from drlspec.updates import reinforce_loss

__all__ = ["Config", "train"]


@dataclass
class Config(BaseConfig):
    """REINFORCE hyperparameters (the seed's lr 1e-3 and gamma 0.98; a baseline by default)."""

    total_steps: int = 200_000
    """environment steps to train for."""
    episodes_per_update: int = 4
    """whole episodes per gradient step."""
    learning_rate: float = 1e-3
    """Adam step size of the policy."""
    value_lr: float = 1e-2
    """Adam step size of the baseline."""
    gamma: float = 0.98
    """discount factor."""
    baseline: bool = True
    """subtract a learned V(s_t) from G_t (and bootstrap truncated episodes from it)."""
    hidden_sizes: tuple[int, ...] = (128,)
    """hidden widths of the policy and the value network."""
    activation: str = "relu"
    """hidden activation: "tanh" or "relu"."""
    log_std_init: float = 0.0
    """initial log standard deviation of a Gaussian policy."""

    def __post_init__(self) -> None:
        """The base fields' range checks, then those of the fields this class declares."""
        super().__post_init__()
        check_ranges(self, Config, unit_interval={"gamma"}, any_number={"log_std_init"})


make_agent = PolicyAgent


def train(config: Config, run: Run, resume: dict[str, Any] | None = None) -> PolicyAgent:
    """Train REINFORCE for ``config.total_steps`` steps, logging into ``run``.

    ``resume``: a checkpoint written by this loop; training continues exactly where it stopped.
    """
    training = Training(config, run, resume, 1)
    agent = PolicyAgent(config, training.observation_space, training.action_space)
    policy = DistributionPolicy(agent.policy)
    optimizer = torch.optim.Adam(agent.policy.parameters(), lr=config.learning_rate)
    value_optimizer = torch.optim.Adam(agent.value.parameters(), lr=config.value_lr)
    collector = RolloutCollector(
        training.envs, training.carry, agent.policy, run, agent.device, training.tracker
    )
    training.checkpoint(
        agent, collector.state, optimizer=optimizer, value_optimizer=value_optimizer
    )
    step = training.start_step

    while step < config.total_steps:
        # Whole episodes: the one environment is stepped until enough of them have ended.
        rollout, step = collector.collect_episodes(
            config.episodes_per_update, step, log_probs=False
        )
        is_transition = rollout.valid.all(dim=1)  # a next-step reset step is not one
        cat = {
            name: getattr(rollout, name)[is_transition]
            for name in ("observations", "actions", "rewards", "terminated", "truncated")
        }
        next_observations = rollout.next_observations[is_transition]
        obs = cat["observations"].reshape(-1, cat["observations"].shape[-1])
        rewards = cat["rewards"]
        dones = cat["terminated"] | cat["truncated"]
        # 1. Reward-to-go; a truncated episode's tail is bootstrapped from the baseline.
        if config.baseline:
            with torch.no_grad():
                final_values = agent.value(next_observations.reshape(obs.shape)).reshape(
                    rewards.shape
                )
            cut_short = cat["truncated"] & ~cat["terminated"]
            rewards = rewards + config.gamma * cut_short.to(rewards.dtype) * final_values
        returns = discounted_returns(rewards, dones, config.gamma).reshape(-1)
        # 2. Policy gradient with G or G - V(s), and the baseline's regression onto G.
        actions = cat["actions"].reshape(-1, *cat["actions"].shape[2:])
        metrics: dict[str, float] = {}
        weights = returns
        if config.baseline:
            values = agent.value(obs)
            weights = returns - values.detach()
            value_loss = (values - returns).pow(2).mean()
            check_finite("value loss", value_loss, step)
            value_optimizer.zero_grad()
            value_loss.backward()
            value_optimizer.step()
            metrics["value_loss"] = float(value_loss.detach())
        loss = reinforce_loss(policy, obs, actions, weights)
        check_finite("loss", loss, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.log_update(
            step, loss=float(loss.detach()), mean_return=float(returns.mean()), **metrics
        )
        training.tick(step)
    training.close()
    return agent
