"""The agents and the ``ALGORITHMS`` registry behind ``drlspec train`` and ``drlspec evaluate``.

**The agent-module contract.** Every algorithm module (:mod:`~drlspec.agents.dqn`,
:mod:`~drlspec.agents.reinforce`, :mod:`~drlspec.agents.actor_critic`,
:mod:`~drlspec.agents.trpo`, :mod:`~drlspec.agents.ppo`) provides three names:

* ``Config``: a dataclass derived from :class:`~drlspec.agents.config.BaseConfig`, one
  docstring per field, the defaults training on CartPole-v1. Its ``__post_init__`` range-checks
  the fields it declares (:func:`~drlspec.agents.config.check_ranges`) after the base class's,
  so a bad value is a :class:`~drlspec.agents.config.ConfigError` before anything runs.
* ``make_agent(config, observation_space, action_space)``: the agent, with
  ``act(observations) -> actions`` (deterministic; a batch in, a batch out) and
  ``state_dict()``/``load_state_dict()``. An unsupported space or setting raises ``ValueError``
  or ``TypeError``, which :func:`make_config` reports as a ``ConfigError``.
* ``train(config, run, resume=None)``: the training loop, built from the contract kernels,
  logging into ``run`` (a :class:`~drlspec.agents.run_folder.Run`) and returning the trained
  agent. ``resume`` is a checkpoint written by the same loop, which then continues exactly
  where it stopped. The loop keeps only its algorithm: seeding, environments, checkpoint,
  resume and evaluation are :class:`~drlspec.agents.training.Training`'s.

Variants that are flag combinations of one agent (Double/Dueling/prioritized DQN, PPO-Penalty)
are registry entries with different config defaults. What the agents share lives in one module
per concern: :mod:`~drlspec.agents.config` (``Config`` base, ``--set`` parsing),
:mod:`~drlspec.agents.seeding`, :mod:`~drlspec.agents.environments`,
:mod:`~drlspec.agents.guards` (non-finite numbers), :mod:`~drlspec.agents.evaluation`,
:mod:`~drlspec.agents.files` (atomic writes, CSV), :mod:`~drlspec.agents.run_folder`,
:mod:`~drlspec.agents.progress`, :mod:`~drlspec.agents.interrupts` (Ctrl-C),
:mod:`~drlspec.agents.training`, and, for the on-policy agents, :mod:`~drlspec.agents.rollout`
and :mod:`~drlspec.agents.on_policy` (the policy-and-value agent, GAE, standardisation).

This module's :func:`train` wraps an algorithm's ``train`` with what a whole run needs: the run
folder, the Ctrl-C guard, the final evaluation and ``summary.json``.

Command line: ``drlspec train ALGO --env ENV_ID --steps N --seed S --device cpu|cuda
[--set key=value ...] [--run-dir DIR]``, ``drlspec train --resume RUN_DIR [--steps N]`` and
``drlspec evaluate RUN_DIR --episodes K [--checkpoint last|best]``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from drlspec.agents import actor_critic, dqn, ppo, reinforce, trpo
from drlspec.agents.config import ConfigError, apply_overrides, config_from_dict
from drlspec.agents.evaluation import evaluate_policy
from drlspec.agents.files import atomic_write_text
from drlspec.agents.run_folder import Run

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "evaluate_run",
    "load_agent",
    "make_config",
    "resume_config",
    "train",
]


@dataclass(frozen=True)
class Algorithm:
    """A registry entry: the module holding Config/agent/train and its default overrides."""

    name: str
    module: Any
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def config_class(self) -> type:
        return self.module.Config


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("dqn", dqn, "DQN with a hard-updated target network"),
        Algorithm("double_dqn", dqn, "Double DQN", {"double": True}),
        # Dueling learned more slowly on CartPole-v1 (seed 1: 241 after 80k steps, 500 from
        # 100k on); the same exploration length, spread over 150k steps.
        Algorithm(
            "dueling_dqn",
            dqn,
            "Dueling DQN (mean aggregation)",
            {"dueling": True, "total_steps": 150_000, "exploration_fraction": 0.1},
        ),
        Algorithm(
            "per_dqn", dqn, "DQN with proportional prioritized replay", {"prioritized": True}
        ),
        Algorithm("reinforce", reinforce, "REINFORCE with a value baseline"),
        Algorithm("actor_critic", actor_critic, "one-step Actor-Critic"),
        Algorithm("trpo", trpo, "TRPO with GAE"),
        Algorithm("ppo", ppo, "PPO-Clip with GAE"),
        Algorithm("ppo_penalty", ppo, "PPO with the adaptive KL penalty", {"variant": "penalty"}),
    )
}


def make_config(
    algorithm: str,
    *,
    env_id: str | None = None,
    total_steps: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    overrides: Sequence[str] = (),
) -> Any:
    """The resolved config: class defaults, the algorithm's defaults, the CLI options, ``--set``."""
    if algorithm not in ALGORITHMS:
        raise ConfigError(
            f"unknown algorithm {algorithm!r}; choose one of: {', '.join(ALGORITHMS)}"
        )
    entry = ALGORITHMS[algorithm]
    config = entry.config_class(**entry.defaults)
    given = {"env_id": env_id, "total_steps": total_steps, "seed": seed, "device": device}
    config = dataclasses.replace(config, **{k: v for k, v in given.items() if v is not None})
    config = apply_overrides(config, overrides)
    if config.device not in ("cpu", "cuda") and not config.device.startswith("cuda:"):
        raise ConfigError(f"device must be cpu or cuda, got {config.device!r}")
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device cuda requested but torch.cuda.is_available() is False")
    try:
        gym.spec(config.env_id)
    except gym.error.Error as error:
        raise ConfigError(f"unknown environment id {config.env_id!r} ({error})") from None
    # Build the agent once on the environment's spaces: an unsupported space or a bad
    # hyperparameter fails here, before a run folder exists.
    env = gym.make(config.env_id)
    try:
        entry.module.make_agent(config, env.observation_space, env.action_space)
    except (ValueError, TypeError) as error:
        raise ConfigError(str(error)) from None
    finally:
        env.close()
    return config


def train(
    algorithm: str,
    config: Any,
    run_dir: Path | str,
    *,
    progress: bool = True,
    resume: bool = False,
    eval_seed: int | None = None,
    eval_episodes: int | None = None,
) -> dict[str, Any]:
    """Train, evaluate the final policy, write every run file; return the summary.

    The final evaluation plays ``eval_episodes`` (default ``config.eval_episodes``) episodes
    seeded ``eval_seed, eval_seed + 1, ...`` (default ``config.seed + 10_000``, apart from the
    training seeds); the regression runner passes one fixed evaluation seed for every run.

    ``resume=True`` continues the run in ``run_dir`` from ``checkpoints/last.pt``: networks,
    optimizers, replay buffer, environments mid-episode and random states are restored, so
    with an unchanged config the result equals an uninterrupted run's. The first Ctrl-C stops
    training at the next consistent point after writing the checkpoint and the metrics, then
    ``KeyboardInterrupt`` propagates.
    """
    entry = ALGORITHMS[algorithm]
    state = None
    if resume:
        state = torch.load(
            Path(run_dir) / "checkpoints" / "last.pt",
            map_location=config.device,
            weights_only=False,
        )
        if "envs" not in state:
            raise ConfigError(f"{run_dir}: last.pt holds no training state (a finished run?)")
    run = Run(run_dir, algorithm, config, progress=progress, resume=resume)
    if state is not None:
        run.resume_from(int(state["step"]))
    start = time.perf_counter()
    try:
        with run.interrupt_guard():
            agent = entry.module.train(config, run, state)
    except KeyboardInterrupt:
        run.finish()
        if not run.saved_on_interrupt:
            # Interrupted outside the loop's consistent points: the weights are loadable, but
            # the environments may be a step ahead of the counters.
            run.save_latest()
        run.plot()
        raise
    seconds = time.perf_counter() - start
    run.finish()
    returns = evaluate_policy(
        agent.act,
        config.env_id,
        config.eval_episodes if eval_episodes is None else eval_episodes,
        config.seed + 10_000 if eval_seed is None else eval_seed,
    )
    mean = run.log_evaluation(run.step, returns)
    run.save_latest()
    if mean >= run.best_evaluation:
        run.best_evaluation = mean
        run.save({"agent": agent.state_dict()}, name="best.pt")
    run.plot()
    steps_run = run.step - run.start_step
    summary = {
        "algorithm": algorithm,
        "env_id": config.env_id,
        "seed": config.seed,
        "steps": run.step,
        "train_seconds": round(seconds, 2),
        "steps_per_second": round(steps_run / max(seconds, 1e-9), 1),
        "eval_episodes": len(returns),
        "eval_mean_return": mean,
        "eval_std_return": float(np.std(returns)),
        "eval_returns": [float(r) for r in returns],
        "best_eval_mean_return": run.best_evaluation,
    }
    atomic_write_text(Path(run_dir) / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def resume_config(run_dir: Path | str, total_steps: int | None = None) -> tuple[str, Any]:
    """``(algorithm, config)`` of the run in ``run_dir`` (``total_steps`` may be raised)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.exists():
        raise ConfigError(f"{run_dir} is not a run folder (no config.json)")
    if not (run_dir / "checkpoints" / "last.pt").exists():
        raise ConfigError(f"{run_dir} has no checkpoint last.pt to resume from")
    values = json.loads(config_path.read_text())
    algorithm = values.pop("algorithm", None)
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"{config_path} names an unknown algorithm {algorithm!r}")
    config = config_from_dict(ALGORITHMS[algorithm].config_class, values)
    if total_steps is not None:
        config = dataclasses.replace(config, total_steps=total_steps)
    return algorithm, config


def load_agent(run_dir: Path | str, checkpoint: str = "last.pt") -> tuple[Any, Any, dict]:
    """``(agent, config, checkpoint dict)`` rebuilt from a run folder."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    checkpoint_path = run_dir / "checkpoints" / checkpoint
    if not config_path.exists():
        raise ConfigError(f"{run_dir} is not a run folder (no config.json)")
    if not checkpoint_path.exists():
        raise ConfigError(f"{run_dir} has no checkpoint {checkpoint}")
    values = json.loads(config_path.read_text())
    algorithm = values.pop("algorithm", None)
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"{config_path} names an unknown algorithm {algorithm!r}")
    entry = ALGORITHMS[algorithm]
    config = config_from_dict(entry.config_class, values)
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        config = dataclasses.replace(config, device="cpu")
    state = torch.load(checkpoint_path, map_location=config.device, weights_only=False)
    env = gym.make(config.env_id)
    try:
        agent = entry.module.make_agent(config, env.observation_space, env.action_space)
    finally:
        env.close()
    agent.load_state_dict(state["agent"])
    return agent, config, state


def evaluate_run(
    run_dir: Path | str, episodes: int, seed: int | None = None, checkpoint: str = "last.pt"
) -> list[float]:
    """Returns of ``episodes`` deterministic episodes of a run's checkpoint."""
    agent, config, _ = load_agent(run_dir, checkpoint)
    torch.set_num_threads(1)
    start = config.seed + 20_000 if seed is None else seed
    return evaluate_policy(agent.act, config.env_id, episodes, start)
