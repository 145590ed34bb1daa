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

import contextlib
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drlspec.agents import actor_critic, dqn, ppo, reinforce, trpo
from drlspec.agents.config import ConfigError, apply_overrides, config_from_dict
from drlspec.agents.environments import make_env
from drlspec.agents.evaluation import evaluate_policy
from drlspec.agents.files import atomic_write_text
from drlspec.agents.run_folder import Run, RunInterrupted, hold_run_folder, load_checkpoint

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
    # One replace for the options and --set together: a combination is checked once, as given.
    config = apply_overrides(config, overrides, **{k: v for k, v in given.items() if v is not None})
    if config.device not in ("cpu", "cuda") and not config.device.startswith("cuda:"):
        raise ConfigError(f"device must be cpu or cuda, got {config.device!r}")
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device cuda requested but torch.cuda.is_available() is False")
    # Build the agent once on the environment's spaces: an unknown environment, a missing
    # optional dependency, an unsupported space or a bad hyperparameter fails here, before a
    # run folder exists.
    env = make_env(config.env_id)
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
    with an unchanged config the result equals an uninterrupted run's. ``total_steps`` below
    the checkpoint's step, or equal to it for a finished run, is a ``ConfigError``.

    The run folder is held (``.lock``) until the function returns; a folder another process
    holds is a ``ConfigError``. The first Ctrl-C stops training at the next consistent point
    after writing the checkpoint and the metrics (an evaluation under way, the final one
    included, is abandoned and played again on resume), then
    :class:`~drlspec.agents.run_folder.RunInterrupted`, a ``KeyboardInterrupt`` saying what
    the folder holds, propagates.
    """
    entry = ALGORITHMS[algorithm]
    run_dir = Path(run_dir)
    # The folder is this process's until train returns: a second process is refused.
    with hold_run_folder(run_dir, create=not resume):
        state, keep_rows = None, False
        if resume:
            state = load_checkpoint(run_dir / "checkpoints" / "last.pt", config.device)
            if "envs" not in state:
                raise ConfigError(f"{run_dir}: last.pt holds no training state")
            done = int(state["step"])
            if config.total_steps < done:
                raise ConfigError(
                    f"{run_dir} has run {done} steps already: the total (--steps) must be at "
                    f"least {done}, got {config.total_steps}"
                )
            finished = _finished_at(run_dir) == done
            if finished and config.total_steps == done:
                raise ConfigError(
                    f"{run_dir} finished at step {done}; give a larger --steps to train it further"
                )
            # A finished run trained further keeps its final evaluation's row.
            keep_rows = finished
        run = Run(run_dir, algorithm, config, progress=progress, resume=resume)
        if state is not None:
            run.resume_from(state, keep_rows=keep_rows)
        return _train_in(run, entry, config, state, eval_seed, eval_episodes)


def _finished_at(run_dir: Path) -> int | None:
    """The step ``summary.json`` reports (written last, when a run finished), or ``None``."""
    try:
        return int(json.loads((run_dir / "summary.json").read_text())["steps"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _train_in(
    run: Run,
    entry: Algorithm,
    config: Any,
    state: dict[str, Any] | None,
    eval_seed: int | None,
    eval_episodes: int | None,
) -> dict[str, Any]:
    """:func:`train`'s work in a held run folder: the loop, the final evaluation, the files."""
    start = time.perf_counter()
    try:
        with run.interrupt_guard():
            agent = entry.module.train(config, run, state)  # last.pt holds the last step
            seconds = time.perf_counter() - start
            run.finish()
            returns = evaluate_policy(
                agent.act,
                config.env_id,
                config.eval_episodes if eval_episodes is None else eval_episodes,
                config.seed + 10_000 if eval_seed is None else eval_seed,
                stop=lambda: run.interrupt_requested,
                phase="final_evaluation",
            )
            mean = run.log_evaluation(run.step, returns)
            run.flush()
            if mean >= run.best_evaluation:
                run.best_evaluation = mean
                run.save({"agent": agent.state_dict()}, name="best.pt")
            run.plot()
            steps_run = run.step - run.start_step
            summary = {
                "algorithm": entry.name,
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
            # Written last: a summary whose step is last.pt's marks a finished run.
            atomic_write_text(run.directory / "summary.json", json.dumps(summary, indent=2) + "\n")
    except RunInterrupted:
        run.finish()
        with contextlib.suppress(KeyboardInterrupt):
            run.plot()
        raise
    except KeyboardInterrupt:
        # Stopped part-way through a step (a second Ctrl-C) or in the final evaluation:
        # last.pt and the rows it counts are the last exact state; nothing new is written.
        run.finish()
        interrupted = run.abandon()
        if not interrupted.removed:
            with contextlib.suppress(KeyboardInterrupt):
                run.plot()
        raise interrupted from None
    return summary


def _read_config(run_dir: Path) -> tuple[str, Any]:
    """``(algorithm, config)`` from ``run_dir/config.json``; a ``ConfigError`` naming the file
    and the fault where it is missing, not JSON or not a config."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.json)")
    try:
        values = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigError(f"{config_path} is not a readable JSON file ({error})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{config_path} does not hold a config (a JSON object)")
    algorithm = values.pop("algorithm", None)
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ConfigError(f"{config_path} names an unknown algorithm {algorithm!r}")
    try:
        config = config_from_dict(ALGORITHMS[algorithm].config_class, values)
    except ConfigError as error:
        raise ConfigError(f"{config_path}: {error}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{config_path} holds a bad config ({error})") from None
    return algorithm, config


def resume_config(run_dir: Path | str, total_steps: int | None = None) -> tuple[str, Any]:
    """``(algorithm, config)`` of the run in ``run_dir`` (``total_steps`` may be raised)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a run folder")
    algorithm, config = _read_config(run_dir)
    if not (run_dir / "checkpoints" / "last.pt").exists():
        raise ConfigError(f"{run_dir} has no checkpoint last.pt to resume from")
    if total_steps is not None:
        try:
            config = dataclasses.replace(config, total_steps=total_steps)
        except ConfigError as error:
            raise ConfigError(f"--steps: {error}") from None
    return algorithm, config


def load_agent(run_dir: Path | str, checkpoint: str = "last.pt") -> tuple[Any, Any, dict]:
    """``(agent, config, checkpoint dict)`` rebuilt from a run folder."""
    run_dir = Path(run_dir)
    algorithm, config = _read_config(run_dir)
    checkpoint_path = run_dir / "checkpoints" / checkpoint
    if not checkpoint_path.exists():
        raise ConfigError(f"{run_dir} has no checkpoint {checkpoint}")
    entry = ALGORITHMS[algorithm]
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        config = dataclasses.replace(config, device="cpu")
    state = load_checkpoint(checkpoint_path, config.device)
    env = make_env(config.env_id)
    try:
        agent = entry.module.make_agent(config, env.observation_space, env.action_space)
    finally:
        env.close()
    try:
        agent.load_state_dict(state["agent"])
    except (KeyError, RuntimeError, TypeError) as error:
        raise ConfigError(
            f"{checkpoint_path} does not fit the agent config.json describes ({error})"
        ) from None
    return agent, config, state


def evaluate_run(
    run_dir: Path | str, episodes: int, seed: int | None = None, checkpoint: str = "last.pt"
) -> list[float]:
    """Returns of ``episodes`` deterministic episodes of a run's checkpoint."""
    agent, config, _ = load_agent(run_dir, checkpoint)
    torch.set_num_threads(1)
    start = config.seed + 20_000 if seed is None else seed
    return evaluate_policy(agent.act, config.env_id, episodes, start)
