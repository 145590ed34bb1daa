"""DQN and its variants: Double DQN, Dueling DQN, prioritized replay (flags of one agent).

Algorithm (seed 1、DQN / :two: 算法流程; Mnih et al. 2015, Algorithm 1):

1. act epsilon-greedily w.r.t. ``Q_theta``, store ``(s, a, r, s', terminated, truncated)``
   in the replay buffer (``s'`` the true next observation, also at an auto-reset);
2. every ``train_frequency`` steps, do ``gradient_steps`` updates on batches from the buffer:
   ``y = r + gamma (1 - terminated) max_a' Q_target(s', a')`` or, with ``double``,
   ``Q_target(s', argmax_a' Q_theta(s', a'))`` (seed :four: Double DQN); minimise the Huber (or
   squared) value of the TD error ``Q_theta(s, a) - y`` (the update contracts
   :func:`drlspec.updates.dqn_td_errors`, :func:`drlspec.updates.double_dqn_td_errors`).
   The prediction uses the online parameters ``theta``; only the target uses ``theta^-``
   (docs/errata.md E1). Truncation is not an argument of the target: a time-limited
   transition bootstraps (E3);
3. the target network is a hard copy every ``target_update_interval`` steps (seed 目标网络),
   or, with ``tau < 1``, a Polyak average ``theta^- <- tau theta + (1 - tau) theta^-`` there
   (:func:`drlspec.updates.target_update`).

Flags: ``dueling`` swaps the network for :class:`drlspec.networks.DuelingQNetwork` (seed
:five: Dueling DQN); ``prioritized`` uses :class:`drlspec.replay.PrioritizedReplayBuffer`
and weights each sample's loss by its importance weight (seed :six: Prioritized Experience
Replay). The seed's ``DQN`` class creates ``self.optimize`` but calls ``self.optimizer``
(docs/errata.md E2); here there is one ``optimizer``, exercised by every training test.

Defaults solve CartPole-v1: one gradient step every 4 environment steps, a hard target
update every 500 (tuned here; rl-baselines3-zoo's bursts of 128 gradient steps every 256
environment steps learned faster but collapsed more often late in training).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces

from drlspec.agents.config import BaseConfig, ConfigError, check_ranges
from drlspec.agents.environments import check_spaces
from drlspec.agents.guards import check_finite
from drlspec.agents.run_folder import Run
from drlspec.agents.training import Training
from drlspec.collection import CollectorCarry, collect_transitions
from drlspec.networks import DuelingQNetwork, QNetwork
from drlspec.replay import PrioritizedReplayBuffer, ReplayBuffer
from drlspec.updates import double_dqn_td_errors, dqn_td_errors, target_update

__all__ = ["Config", "DQNAgent", "train"]


@dataclass
class Config(BaseConfig):
    """DQN hyperparameters (the defaults solve CartPole-v1)."""

    total_steps: int = 80_000
    """environment steps to train for."""
    learning_rate: float = 5e-4
    """Adam step size."""
    anneal_lr: bool = False
    """anneal the step size linearly to 0 over training (steadies the final policy)."""
    buffer_size: int = 100_000
    """replay buffer capacity (transitions)."""
    batch_size: int = 64
    """transitions per gradient step."""
    gamma: float = 0.99
    """discount factor."""
    learning_starts: int = 1_000
    """steps of random actions before the first update."""
    train_frequency: int = 4
    """environment steps between bursts of gradient steps."""
    gradient_steps: int = 1
    """gradient steps per burst."""
    target_update_interval: int = 500
    """environment steps between target-network updates (the seed's C)."""
    tau: float = 1.0
    """target update: 1 = hard copy, < 1 = Polyak average with this weight."""
    epsilon_start: float = 1.0
    """exploration rate at the start."""
    epsilon_end: float = 0.04
    """exploration rate after the decay."""
    exploration_fraction: float = 0.2
    """fraction of total_steps over which epsilon decays linearly."""
    hidden_sizes: tuple[int, ...] = (128, 128)
    """hidden layer widths of the Q network."""
    loss: str = "huber"
    """"huber" (smooth L1) or "mse" (the seed's squared error)."""
    max_grad_norm: float = 10.0
    """gradient-norm clip (0 disables)."""
    double: bool = False
    """Double DQN target (van Hasselt et al. 2016)."""
    dueling: bool = False
    """dueling network (Wang et al. 2016)."""
    dueling_mode: str = "mean"
    """dueling aggregation: "mean" or "max"."""
    prioritized: bool = False
    """proportional prioritized replay (Schaul et al. 2016)."""
    per_alpha: float = 0.6
    """prioritization exponent alpha."""
    per_beta0: float = 0.4
    """initial importance-sampling exponent beta (annealed to 1)."""
    per_eps: float = 1e-6
    """added to |TD error| to form a priority."""

    def __post_init__(self) -> None:
        """The base fields' range checks, then those of the fields this class declares."""
        super().__post_init__()
        check_ranges(
            self,
            Config,
            unit_interval={
                "gamma",
                "tau",
                "epsilon_start",
                "epsilon_end",
                "exploration_fraction",
                "per_beta0",
            },
            non_negative={"learning_starts", "max_grad_norm", "per_alpha", "per_eps"},
        )
        if self.tau == 0.0:
            raise ConfigError("tau must be > 0 (tau = 0 never updates the target network)")
        check_learns(self)


def first_update_step(config: Config) -> int:
    """The first step at which :func:`train` takes a gradient step: the first multiple of
    ``train_frequency`` after ``learning_starts`` at which the buffer (one transition per step)
    holds a batch."""
    earliest = max(config.learning_starts + 1, config.batch_size)
    return -(-earliest // config.train_frequency) * config.train_frequency


def check_learns(config: Config) -> None:
    """A :class:`ConfigError` for settings under which :func:`train` never takes a gradient step
    (it would run to the end and report success with the initial network)."""
    names = ("total_steps", "buffer_size", "batch_size", "learning_starts", "train_frequency")
    if not all(type(getattr(config, name)) is int for name in names):
        return  # a value of the wrong kind is not a combination to judge
    if config.batch_size > config.buffer_size:
        raise ConfigError(
            f"batch_size ({config.batch_size}) is larger than buffer_size "
            f"({config.buffer_size}): the replay buffer never holds a batch, so no gradient step "
            "would ever be taken"
        )
    if config.learning_starts >= config.total_steps:
        raise ConfigError(
            f"learning_starts ({config.learning_starts}) must be below total_steps "
            f"({config.total_steps}): updates start after learning_starts steps, so no gradient "
            "step would ever be taken"
        )
    first = first_update_step(config)
    if first > config.total_steps:
        raise ConfigError(
            f"no gradient step within total_steps ({config.total_steps}): the first needs a "
            f"step past learning_starts ({config.learning_starts}), a full batch (batch_size "
            f"{config.batch_size}) in the buffer and a multiple of train_frequency "
            f"({config.train_frequency}), i.e. step {first}"
        )


class DQNAgent:
    """The online and target Q networks, and the greedy policy read off them."""

    def __init__(self, config: Config, observation_space: spaces.Box, action_space: spaces.Space):
        check_spaces(observation_space, action_space, "dqn", continuous=False)
        if config.loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {config.loss!r}")
        self.device = torch.device(config.device)
        obs_dim, num_actions = int(observation_space.shape[0]), int(action_space.n)
        if config.dueling:
            network = DuelingQNetwork(
                obs_dim, num_actions, config.hidden_sizes, config.dueling_mode
            )
        else:
            network = QNetwork(obs_dim, num_actions, config.hidden_sizes)
        self.q_network = network.to(self.device)
        self.target_network = copy.deepcopy(self.q_network)
        self.target_network.requires_grad_(False)
        self.num_actions = num_actions

    @torch.inference_mode()
    def act(self, observations: np.ndarray) -> np.ndarray:
        """Greedy actions ``argmax_a Q(s, a)`` for ``[B, obs_dim]`` observations."""
        obs = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        return self.q_network(obs).argmax(dim=1).cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        return {
            "q_network": self.q_network.state_dict(),
            "target_network": self.target_network.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.q_network.load_state_dict(state["q_network"])
        self.target_network.load_state_dict(state["target_network"])


def epsilon_at(config: Config, step: int) -> float:
    """Linear decay from ``epsilon_start`` to ``epsilon_end`` over the exploration steps."""
    duration = max(1.0, config.exploration_fraction * config.total_steps)
    fraction = min(1.0, step / duration)
    return config.epsilon_start + fraction * (config.epsilon_end - config.epsilon_start)


def td_loss(
    agent: DQNAgent, config: Config, batch, weights: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss of one batch and its TD errors ``Q_theta(s, a) - y`` (detached).

    The TD errors are the update contract :func:`drlspec.updates.dqn_td_errors` (or
    :func:`~drlspec.updates.double_dqn_td_errors`); the loss is their Huber (or squared)
    value, importance-weighted under prioritized replay.
    """
    td_errors_of = double_dqn_td_errors if config.double else dqn_td_errors
    td_errors = td_errors_of(
        agent.q_network,
        agent.target_network,
        batch.observations,
        batch.actions,
        batch.rewards,
        batch.next_observations,
        batch.terminated,
        config.gamma,
    )
    zeros = torch.zeros_like(td_errors)
    if config.loss == "huber":
        per_sample = F.smooth_l1_loss(td_errors, zeros, reduction="none")
    else:
        per_sample = F.mse_loss(td_errors, zeros, reduction="none")
    loss = per_sample.mean() if weights is None else (weights * per_sample).mean()
    return loss, td_errors.detach()


def update_target(agent: DQNAgent, tau: float) -> None:
    """Hard copy (``tau = 1``) or Polyak average of the online into the target network."""
    target_update(agent.q_network, agent.target_network, tau)


_BUFFER_FIELDS = (
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminated",
    "truncated",
)


def record_step(
    envs,
    act: Callable[[np.ndarray], Any],
    carry: CollectorCarry,
    buffer: ReplayBuffer,
    check: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> tuple[dict[str, np.ndarray], CollectorCarry]:
    """One step of ``envs`` by :func:`drlspec.collection.collect_transitions`; its transitions
    go into ``buffer`` (a next-step reset row is not one and is left out) after ``check(row)``
    (the training loop's NaN guard names the quantity and the step before the buffer would
    refuse it). Returns the step's row (each field ``[N, ...]``, ``valid`` included) and where
    collection continues."""
    transitions, carry = collect_transitions(envs, act, 1, carry)
    row = {name: values[0] for name, values in transitions.items()}
    if check is not None:
        check(row)
    valid = row["valid"]
    if valid.all():  # the usual step: no reset row to leave out, so no masked copies
        buffer.add_batch(*(row[name] for name in _BUFFER_FIELDS))
    else:
        buffer.add_batch(*(row[name][valid] for name in _BUFFER_FIELDS))
    return row, carry


def train(config: Config, run: Run, resume: dict[str, Any] | None = None) -> DQNAgent:
    """Train a DQN agent for ``config.total_steps`` environment steps, logging into ``run``.

    ``resume``: a checkpoint written by this loop; training continues exactly where it stopped
    (networks, optimizer, replay buffer, environments mid-episode, random states).
    """
    training = Training(config, run, resume, 1)
    rng, envs, tracker = training.rng, training.envs, training.tracker
    carry = training.carry
    agent = DQNAgent(config, training.observation_space, training.action_space)
    optimizer = torch.optim.Adam(agent.q_network.parameters(), lr=config.learning_rate)
    # PER's beta reaches 1 at the last gradient step.
    gradient_updates = max(
        1,
        (config.total_steps - config.learning_starts)
        // config.train_frequency
        * config.gradient_steps,
    )
    if config.prioritized:
        buffer: ReplayBuffer = PrioritizedReplayBuffer(
            config.buffer_size,
            envs.single_observation_space.shape,
            alpha=config.per_alpha,
            beta0=config.per_beta0,
            beta_steps=gradient_updates,
            eps=config.per_eps,
        )
    else:
        buffer = ReplayBuffer(config.buffer_size, envs.single_observation_space.shape)

    def loop_state() -> dict[str, Any]:
        return {
            "buffer": buffer,
            "envs": envs,
            "observations": carry.observations,
            "episode_ended": carry.episode_ended,
            "tracker": tracker,
        }

    saved = training.checkpoint(agent, loop_state, optimizer=optimizer)
    if saved is not None:
        buffer = saved["buffer"]
    step = training.start_step
    action_space = envs.action_space

    def epsilon_greedy(step: int) -> Callable[[np.ndarray], np.ndarray]:
        def act(observations: np.ndarray) -> np.ndarray:
            check_finite("observation", observations, step)
            if step < config.learning_starts or rng.random() < epsilon_at(config, step):
                return action_space.sample()
            return agent.act(observations)

        return act

    def finite_at(step: int) -> Callable[[dict[str, np.ndarray]], None]:
        def check(row: dict[str, np.ndarray]) -> None:
            check_finite("reward", row["rewards"], step)
            check_finite("observation", row["next_observations"], step)

        return check

    while step < config.total_steps:
        # 1. Act epsilon-greedily and store the transition with its true next observation
        # (the contract collect_transitions, one step of the one environment).
        row, carry = record_step(envs, epsilon_greedy(step), carry, buffer, finite_at(step + 1))
        step += 1
        for episode_return, length in tracker.update(
            row["rewards"], row["terminated"], row["truncated"], row["valid"]
        ):
            run.log_episode(step, episode_return, length)

        # 2. A burst of gradient steps on replayed batches.
        learning = step > config.learning_starts and len(buffer) >= config.batch_size
        if learning and step % config.train_frequency == 0:
            if config.anneal_lr:
                remaining = 1 - step / config.total_steps
                optimizer.param_groups[0]["lr"] = config.learning_rate * remaining
            losses = []
            for _ in range(config.gradient_steps):
                batch = buffer.sample(config.batch_size, rng, agent.device)
                weights = batch.weights if config.prioritized else None
                loss, td_errors = td_loss(agent, config, batch, weights)
                check_finite("loss", loss, step)
                optimizer.zero_grad()
                loss.backward()
                if config.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(
                        agent.q_network.parameters(), config.max_grad_norm
                    )
                optimizer.step()
                if config.prioritized:
                    buffer.update_priorities(batch.indices.cpu(), td_errors.cpu())
                losses.append(loss.detach())
            run.log_update(
                step, loss=float(torch.stack(losses).mean()), epsilon=epsilon_at(config, step)
            )

        # 3. Target network: hard copy every C steps (or a Polyak step there).
        if step > config.learning_starts and step % config.target_update_interval == 0:
            update_target(agent, config.tau)
        training.tick(step)
    training.close()
    return agent


make_agent = DQNAgent
