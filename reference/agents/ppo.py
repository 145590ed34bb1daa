"""PPO: the clipped surrogate (PPO-Clip) or the adaptive KL penalty (PPO-Penalty).

Algorithm (seed 2、策略梯度 / :five: PPO; Schulman et al. 2017, Algorithm 1), per iteration:

1. collect ``num_steps`` steps of ``num_envs`` environments with ``pi_old`` (a
   :class:`drlspec.agents.rollout.Rollout`, true next observations included);
2. advantages by :func:`drlspec.returns.gae` with ``next_values = V(s_{t+1})`` of the true
   next observation (a truncated step bootstraps, a terminated one does not); value targets
   ``A + V``;
3. ``update_epochs`` passes over shuffled minibatches, minimising the update contract
   :func:`drlspec.updates.ppo_clip_loss` (``variant="clip"``), or maximising
   :func:`drlspec.policy_losses.kl_penalty_objective` with
   ``KL(pi_old || pi_theta)`` per state (``variant="penalty"``, old policy first: errata PG2),
   plus an entropy bonus, minus ``vf_coef`` times the value regression loss;
4. PPO-Penalty only: *after* the epochs, ``beta`` is adapted once by
   :func:`drlspec.policy_losses.adapt_kl_beta` from the mean KL between ``pi_old`` and the
   updated policy over the whole rollout (Schulman et al. 2017, section 4), not per minibatch.
   The seed's rule doubles beta whenever the KL is merely near the target (errata PG1).

The ratio's denominator is ``log pi_old`` recorded at collection time, a constant
(errata PG5). Discrete actions use :class:`drlspec.policies.CategoricalPolicy`, ``Box``
actions :class:`drlspec.policies.GaussianPolicy`. Defaults solve CartPole-v1 (after
rl-baselines3-zoo's tuned PPO for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from gymnasium import spaces

from drlspec.agents.config import BaseConfig, check_minibatch, check_ranges
from drlspec.agents.environments import check_spaces
from drlspec.agents.guards import check_finite
from drlspec.agents.on_policy import PolicyAgent, advantages_and_returns, standardise
from drlspec.agents.rollout import RolloutCollector
from drlspec.agents.run_folder import Run
from drlspec.agents.training import Training
from drlspec.policies import DistributionPolicy
from drlspec.policy_losses import adapt_kl_beta, kl_penalty_objective
from drlspec.updates import ppo_clip_loss_terms

__all__ = ["Config", "make_agent", "train"]


@dataclass
class Config(BaseConfig):
    """PPO hyperparameters (the defaults solve CartPole-v1)."""

    total_steps: int = 100_000
    """environment steps to train for."""
    variant: str = "clip"
    """"clip" (PPO-Clip) or "penalty" (PPO with the adaptive KL penalty)."""
    num_envs: int = 8
    """parallel environments."""
    num_steps: int = 32
    """steps per environment per rollout."""
    learning_rate: float = 1e-3
    """Adam step size, annealed linearly to 0 over training if anneal_lr."""
    anneal_lr: bool = True
    """anneal the learning rate linearly to 0."""
    gamma: float = 0.98
    """discount factor."""
    gae_lambda: float = 0.8
    """GAE lambda."""
    update_epochs: int = 20
    """passes over each rollout."""
    minibatch_size: int = 256
    """samples per gradient step (at most one rollout, num_envs * num_steps)."""
    clip_eps: float = 0.2
    """PPO-Clip's epsilon."""
    beta: float = 1.0
    """PPO-Penalty's initial KL coefficient."""
    beta_min: float = 1 / 32
    """PPO-Penalty's floor on beta (0: none, as in the paper). Without one, beta halves after
    every update whose KL stays under the target (as it does once the annealed step size is
    small) and reaches ~1e-15; the late, unpenalized epochs then wreck the policy (CartPole-v1
    seed 4: 500 at 75k steps, 130 at 100k)."""
    target_kl: float = 0.01
    """PPO-Penalty's KL target d_targ."""
    ent_coef: float = 0.0
    """entropy bonus weight."""
    vf_coef: float = 0.5
    """value loss weight."""
    max_grad_norm: float = 0.5
    """gradient-norm clip (0 disables)."""
    normalize_advantages: bool = True
    """standardise advantages per minibatch."""
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
            unit_interval={"gamma", "gae_lambda"},
            non_negative={"clip_eps", "beta_min", "ent_coef", "vf_coef", "max_grad_norm"},
            any_number={"log_std_init"},
        )
        check_minibatch(self)


def check_variant(variant: str) -> None:
    if variant not in ("clip", "penalty"):
        raise ValueError(f"variant must be 'clip' or 'penalty', got {variant!r}")


def make_agent(
    config: Config, observation_space: spaces.Box, action_space: spaces.Space
) -> PolicyAgent:
    """The shared policy-and-value agent; only the variant is PPO's own to check."""
    # The spaces first, as for every agent: an unsupported space is reported before the variant.
    check_spaces(observation_space, action_space, __name__, continuous=True)
    check_variant(config.variant)
    return PolicyAgent(config, observation_space, action_space)


def train(config: Config, run: Run, resume: dict[str, Any] | None = None) -> PolicyAgent:
    """Train PPO for ``config.total_steps`` environment steps, logging into ``run``.

    ``resume``: a checkpoint written by this loop; training continues exactly where it stopped.
    """
    check_variant(config.variant)
    training = Training(config, run, resume, config.num_envs)
    rng = training.rng
    agent = PolicyAgent(config, training.observation_space, training.action_space)
    policy = DistributionPolicy(agent.policy)
    parameters = [*agent.policy.parameters(), *agent.value.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, eps=1e-5)
    collector = RolloutCollector(
        training.envs, training.carry, agent.policy, run, agent.device, training.tracker
    )
    beta, next_iteration = config.beta, 0

    def loop_state() -> dict[str, Any]:
        return {**collector.state(), "beta": beta, "iteration": next_iteration}

    saved = training.checkpoint(agent, loop_state, optimizer=optimizer)
    if saved is not None:
        beta, next_iteration = saved["beta"], saved["iteration"]
    step = training.start_step
    batch = config.num_envs * config.num_steps
    iterations = -(-config.total_steps // batch)  # at least total_steps steps

    for iteration in range(next_iteration, iterations):
        if config.anneal_lr:
            optimizer.param_groups[0]["lr"] = config.learning_rate * (1 - iteration / iterations)
        # 1-2. Rollout with pi_old, then GAE on the true next observations.
        rollout, step = collector.collect(config.num_steps, step)
        advantages, returns = advantages_and_returns(
            agent, rollout, config.gamma, config.gae_lambda
        )
        obs, actions = rollout.rows("observations"), rollout.rows("actions")
        old_log_probs = rollout.rows("log_probs")
        old_outputs = agent.policy.frozen_outputs(obs)
        advantages, returns = rollout.rows(advantages), rollout.rows(returns)
        transitions = advantages.shape[0]  # T * N, less any next-step reset rows

        # 3. Epochs of minibatch ascent on the surrogate.
        for _ in range(config.update_epochs):
            order = torch.from_numpy(rng.permutation(transitions)).to(agent.device)
            for start in range(0, transitions, config.minibatch_size):
                index = order[start : start + config.minibatch_size]
                adv = advantages[index]
                if config.normalize_advantages:
                    adv = standardise(adv)
                if config.variant == "clip":
                    # The minibatch loss is the update contract ppo_clip_loss.
                    loss, objective, value_loss, entropy = ppo_clip_loss_terms(
                        policy,
                        agent.value,
                        obs[index],
                        actions[index],
                        old_log_probs[index],
                        adv,
                        returns[index],
                        config.clip_eps,
                        config.vf_coef,
                        config.ent_coef,
                    )
                else:
                    log_probs = agent.policy.log_prob(obs[index], actions[index])
                    old = (
                        old_outputs[index]
                        if isinstance(old_outputs, torch.Tensor)
                        else tuple(o[index] for o in old_outputs)
                    )
                    kl = agent.policy.kl(obs[index], old)
                    objective = kl_penalty_objective(log_probs, old_log_probs[index], adv, kl, beta)
                    entropy = agent.policy.entropy(obs[index]).mean()
                    value_loss = 0.5 * (agent.value(obs[index]) - returns[index]).pow(2).mean()
                    loss = -objective - config.ent_coef * entropy + config.vf_coef * value_loss
                check_finite("loss", loss, step)
                optimizer.zero_grad()
                loss.backward()
                if config.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
                optimizer.step()

        # 4. Mean KL(pi_old || pi_new) over the whole rollout; PPO-Penalty adapts beta once.
        with torch.no_grad():
            mean_kl = float(agent.policy.kl(obs, old_outputs).mean())
        metrics = {
            "value_loss": float(value_loss.detach()),
            "entropy": float(entropy.detach()),
            "kl": mean_kl,
        }
        if config.variant == "penalty":
            metrics["beta"] = beta
            beta = max(adapt_kl_beta(beta, mean_kl, config.target_kl), config.beta_min)
        run.log_update(step, objective=float(objective.detach()), **metrics)
        next_iteration = iteration + 1
        training.tick(step)
    training.close()
    return agent
