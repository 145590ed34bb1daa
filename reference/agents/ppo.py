"""PPO: the clipped surrogate (PPO-Clip) or the adaptive KL penalty (PPO-Penalty).

Algorithm (seed 2、策略梯度 / :five: PPO; Schulman et al. 2017, Algorithm 1), per iteration:

1. collect ``num_steps`` steps of ``num_envs`` environments with ``pi_old`` (a
   :class:`drlspec.agents.rollout.Rollout`, true next observations included);
2. advantages by :func:`drlspec.returns.gae` with ``next_values = V(s_{t+1})`` of the true
   next observation (a truncated step bootstraps, a terminated one does not); value targets
   ``A + V``;
3. ``update_epochs`` passes over shuffled minibatches, maximising
   :func:`drlspec.policy_losses.ppo_clip_objective` (``variant="clip"``) or
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

import numpy as np
import torch
from gymnasium import spaces

from drlspec.agents.common import (
    BaseConfig,
    Run,
    check_finite,
    check_spaces,
    evaluate_policy,
    restore_rng_state,
    rng_state,
    seed_everything,
    start_environments,
)
from drlspec.agents.rollout import ACTIVATIONS, RolloutCollector, build_policy
from drlspec.policies import ValueNetwork
from drlspec.policy_losses import adapt_kl_beta, kl_penalty_objective, ppo_clip_objective
from drlspec.returns import gae

__all__ = ["Config", "PolicyAgent", "train"]


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
    """samples per gradient step."""
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


class PolicyAgent:
    """A policy head and a value network; acts by the mode (argmax or the Gaussian mean)."""

    def __init__(self, config: Any, observation_space: spaces.Box, action_space: spaces.Space):
        check_spaces(observation_space, action_space, type(config).__module__, continuous=True)
        if getattr(config, "variant", "clip") not in ("clip", "penalty"):
            raise ValueError(f"variant must be 'clip' or 'penalty', got {config.variant!r}")
        if config.activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu', got {config.activation!r}")
        self.device = torch.device(config.device)
        self.action_space = action_space
        self.policy = build_policy(
            observation_space,
            action_space,
            config.hidden_sizes,
            config.activation,
            config.log_std_init,
        ).to(self.device)
        self.value = ValueNetwork(
            int(observation_space.shape[0]),
            config.hidden_sizes,
            ACTIVATIONS[config.activation],
        ).to(self.device)

    @torch.no_grad()
    def act(self, observations: np.ndarray) -> np.ndarray:
        """Deterministic actions: the most probable one, or the Gaussian mean."""
        obs = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        outputs = self.policy(obs)
        if isinstance(self.action_space, spaces.Discrete):
            return outputs.argmax(dim=1).cpu().numpy()
        return outputs[0].cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "value": self.value.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])


make_agent = PolicyAgent


def advantages_and_returns(agent: PolicyAgent, rollout, gamma: float, lam: float):
    """GAE advantages ``[T, N]`` and value targets ``A + V`` from one rollout."""
    steps, envs = rollout.rewards.shape
    with torch.no_grad():
        values = agent.value(rollout.flat("observations")).reshape(steps, envs)
        next_values = agent.value(rollout.flat("next_observations")).reshape(steps, envs)
    advantages = gae(
        rollout.rewards, values, next_values, rollout.terminated, rollout.truncated, gamma, lam
    )
    return advantages, advantages + values


def _standardise(x: torch.Tensor) -> torch.Tensor:
    if x.numel() < 2:
        return x
    return (x - x.mean()) / (x.std() + 1e-8)


def train(config: Config, run: Run, resume: dict[str, Any] | None = None) -> PolicyAgent:
    """Train PPO for ``config.total_steps`` environment steps, logging into ``run``.

    ``resume``: a checkpoint written by this loop; training continues exactly where it stopped.
    """
    if config.variant not in ("clip", "penalty"):
        raise ValueError(f"variant must be 'clip' or 'penalty', got {config.variant!r}")
    rng = seed_everything(config.seed)
    envs, observations, tracker, step = start_environments(config, config.num_envs, resume)
    agent = PolicyAgent(config, envs.single_observation_space, envs.single_action_space)
    parameters = [*agent.policy.parameters(), *agent.value.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, eps=1e-5)
    collector = RolloutCollector(envs, observations, agent.policy, run, agent.device, tracker)
    beta, next_iteration = config.beta, 0
    if resume is not None:
        agent.load_state_dict(resume["agent"])
        optimizer.load_state_dict(resume["optimizer"])
        beta, next_iteration = resume["beta"], resume["iteration"]
        restore_rng_state(rng, resume["rng"])
    batch = config.num_envs * config.num_steps
    iterations = -(-config.total_steps // batch)  # at least total_steps steps

    def snapshot() -> dict[str, Any]:
        return {
            **collector.state(),
            "agent": agent.state_dict(),
            "optimizer": optimizer.state_dict(),
            "beta": beta,
            "iteration": next_iteration,
            "rng": rng_state(rng),
        }

    def evaluate() -> list[float]:
        return evaluate_policy(agent.act, config.env_id, config.eval_episodes, config.seed + 10_000)

    for iteration in range(next_iteration, iterations):
        if config.anneal_lr:
            optimizer.param_groups[0]["lr"] = config.learning_rate * (1 - iteration / iterations)
        # 1-2. Rollout with pi_old, then GAE on the true next observations.
        rollout, step = collector.collect(config.num_steps, step)
        advantages, returns = advantages_and_returns(
            agent, rollout, config.gamma, config.gae_lambda
        )
        obs, actions = rollout.flat("observations"), rollout.flat("actions")
        old_log_probs = rollout.flat("log_probs")
        old_outputs = agent.policy.frozen_outputs(obs)
        advantages, returns = advantages.reshape(-1), returns.reshape(-1)

        # 3. Epochs of minibatch ascent on the surrogate.
        for _ in range(config.update_epochs):
            order = torch.from_numpy(rng.permutation(batch)).to(agent.device)
            for start in range(0, batch, config.minibatch_size):
                index = order[start : start + config.minibatch_size]
                log_probs = agent.policy.log_prob(obs[index], actions[index])
                adv = (
                    _standardise(advantages[index])
                    if config.normalize_advantages
                    else (advantages[index])
                )
                if config.variant == "clip":
                    objective = ppo_clip_objective(
                        log_probs, old_log_probs[index], adv, config.clip_eps
                    )
                else:
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
        run.tick(step, snapshot, evaluate)
    envs.close()
    return agent
