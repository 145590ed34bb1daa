"""What every agent shares: seeding, environments, the run folder, metrics, checkpoints, guards.

* **Seeding** (:func:`seed_everything`): one integer seeds Python's ``random``, numpy, torch, the
  environments' resets and their action spaces, so two CPU runs with the same seed give
  bit-identical metrics. Training runs torch single-threaded: the networks are small MLPs, for
  which one thread is faster than several, and a fixed thread count keeps the reductions'
  order, hence the bits, fixed.
* **Environments** (:func:`make_vector_env`): gymnasium >= 1.0 ``SyncVectorEnv`` in
  ``AutoresetMode.SAME_STEP``. When a sub-environment's episode ends, ``step`` already returns
  the first observation of the next episode, and the true last observation is in
  ``infos["final_obs"]`` (mask ``infos["_final_obs"]``). :func:`true_next_observations` puts
  it back, so a transition ``(s, a, r, s')`` always holds the real ``s'``: a *truncated* step
  bootstraps from ``V(s')`` of that observation, never of the reset one. (The default
  ``NEXT_STEP`` mode would instead return one extra step whose action is ignored; SAME_STEP
  keeps one row per real transition.)
* **Spaces** (:func:`check_spaces`): observations must be a flat ``Box``; actions ``Discrete``
  or, for agents that support it, a flat ``Box``. Anything else is a :class:`ConfigError`
  naming the space, before any training.
* **Run folder** (:class:`Run`): ``config.json`` (the resolved config), ``episodes.csv``
  (one row per finished episode), ``updates.csv`` (one row per update), ``evaluations.csv``,
  ``learning_curve.png``, ``summary.json`` and ``checkpoints/last.pt`` (``best.pt``: the
  agent with the best evaluation). Every file is written atomically (a temporary file in the
  same folder, then ``os.replace``), so an interrupted run never leaves a half-written file.
* **Checkpoints and resume**: ``last.pt`` holds everything the loop needs to continue exactly:
  networks, optimizers, the replay buffer, the environments mid-episode (pickled), the episode
  tracker and every random state. Resuming with an unchanged config reproduces the
  uninterrupted run bit for bit; raising ``total_steps`` on resume also stretches the schedules
  that depend on it (epsilon decay, learning-rate annealing). Checkpoints are pickles: load only
  run folders you trust.
* **Ctrl-C** (:meth:`Run.interrupt_guard`): the first one is deferred to the end of the current
  loop iteration, which saves the checkpoint and the metrics, then stops.
* **Guards** (:func:`check_finite`): a NaN or infinite loss, reward or observation stops
  training with a :class:`NonFiniteError` naming the quantity and the step.

Seed: 1、DQN / :two: 算法流程 and 2、策略梯度 / :two: REINFORCE / 主要代码 (the seed's loops use
gym's old single ``done`` flag; here ``terminated`` and ``truncated`` stay apart).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import math
import os
import random
import signal
import sys
import tempfile
import threading
import time
import types
import typing
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv

__all__ = [
    "BaseConfig",
    "ConfigError",
    "EpisodeTracker",
    "NonFiniteError",
    "Run",
    "apply_overrides",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_finite",
    "check_spaces",
    "evaluate_policy",
    "make_vector_env",
    "restore_rng_state",
    "rng_state",
    "seed_everything",
    "start_environments",
    "true_next_observations",
]


class ConfigError(ValueError):
    """A bad configuration: unknown key, bad value, unsupported space or environment."""


class NonFiniteError(RuntimeError):
    """A NaN or infinite quantity appeared during training."""


@dataclasses.dataclass
class BaseConfig:
    """Fields every algorithm has; each agent's config adds its own below these."""

    env_id: str = "CartPole-v1"
    """gymnasium environment id."""
    total_steps: int = 100_000
    """environment steps to train for (summed over parallel environments)."""
    seed: int = 1
    """seeds torch, numpy, Python's random, the environments and their action spaces."""
    device: str = "cpu"
    """torch device of the networks ("cpu" or "cuda")."""
    checkpoint_interval: int = 10_000
    """environment steps between checkpoints (and metrics flushes)."""
    eval_interval: int = 0
    """environment steps between evaluations (0: only at the end); the best is kept as best.pt."""
    eval_episodes: int = 10
    """episodes per evaluation (deterministic actions)."""

    def __post_init__(self) -> None:
        """Range checks by field name, so that ``--set`` cannot start a run that must crash."""
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in _ANY_NUMBER or isinstance(value, bool):
                continue
            if isinstance(value, tuple):
                if not value or any(width < 1 for width in value):
                    raise ConfigError(f"{item.name} must be positive widths, got {value}")
                continue
            if not isinstance(value, int | float):
                continue
            if item.name in _UNIT_INTERVAL:
                if not 0.0 <= value <= 1.0:
                    raise ConfigError(f"{item.name} must lie in [0, 1], got {value}")
            elif item.name in _NON_NEGATIVE:
                if value < 0:
                    raise ConfigError(f"{item.name} must be >= 0, got {value}")
            elif value <= 0:
                raise ConfigError(f"{item.name} must be > 0, got {value}")
        if getattr(self, "tau", 1.0) == 0.0:
            raise ConfigError("tau must be > 0 (tau = 0 never updates the target network)")


_ANY_NUMBER = {"seed", "log_std_init"}
_UNIT_INTERVAL = {
    "gamma",
    "gae_lambda",
    "tau",
    "epsilon_start",
    "epsilon_end",
    "exploration_fraction",
    "per_beta0",
    "backtrack",
}
_NON_NEGATIVE = {
    "beta_min",
    "eval_interval",
    "learning_starts",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
    "clip_eps",
    "damping",
    "per_alpha",
    "per_eps",
}


# --------------------------------------------------------------------------
# Configuration: --set key=value
# --------------------------------------------------------------------------


def _parse_value(name: str, kind: Any, text: str) -> Any:
    origin = typing.get_origin(kind)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {text!r}") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {text!r}")
        return value
    if kind is str:
        return text
    if origin is tuple:
        item = typing.get_args(kind)[0]
        parts = [p for p in text.replace(" ", "").split(",") if p]
        return tuple(_parse_value(name, item, p) for p in parts)
    if origin in (typing.Union, types.UnionType):
        return _parse_value(
            name, next(a for a in typing.get_args(kind) if a is not type(None)), text
        )
    raise ConfigError(f"{name} cannot be set from the command line")


def apply_overrides(config: Any, assignments: Sequence[str]) -> Any:
    """A copy of the dataclass ``config`` with each ``key=value`` of ``assignments`` applied.

    Values are parsed by the field's annotated type (``int``, ``float``, ``bool``, ``str``,
    ``tuple[int, ...]`` as ``64,64``). An unknown key or an unparsable value is a
    :class:`ConfigError` naming it.
    """
    hints = typing.get_type_hints(type(config))
    names = [f.name for f in dataclasses.fields(config)]
    changes: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {assignment!r}")
        if key not in names:
            raise ConfigError(
                f"unknown config key {key!r} for {type(config).__name__}; known keys: "
                + ", ".join(names)
            )
        changes[key] = _parse_value(key, hints[key], text)
    return dataclasses.replace(config, **changes)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as JSON-ready values (tuples as lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    """The inverse of :func:`config_to_dict` (unknown keys ignored)."""
    hints = typing.get_type_hints(config_class)
    names = {f.name for f in dataclasses.fields(config_class)}
    converted = {
        k: tuple(v) if typing.get_origin(hints[k]) is tuple else v
        for k, v in values.items()
        if k in names
    }
    return config_class(**converted)


# --------------------------------------------------------------------------
# Seeding, environments, spaces
# --------------------------------------------------------------------------


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, numpy and torch; return the numpy generator the agent draws from."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (seeds any third-party code that uses it)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    return np.random.default_rng(seed)


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """Every random state a training loop draws from (for a checkpoint that resumes exactly)."""
    return {
        "numpy": rng.bit_generator.state,
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
    }


def restore_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def make_vector_env(env_id: str, num_envs: int, seed: int) -> tuple[SyncVectorEnv, np.ndarray]:
    """``num_envs`` copies of ``env_id`` in SAME_STEP autoreset mode, reset with seeds
    ``seed, seed + 1, ...`` and action spaces seeded likewise. Returns ``(envs, first obs)``.

    An unknown id is a :class:`ConfigError`.
    """
    try:
        gym.spec(env_id)
    except gym.error.Error as error:
        raise ConfigError(f"unknown environment id {env_id!r} ({error})") from None
    envs = SyncVectorEnv(
        [functools.partial(gym.make, env_id) for _ in range(num_envs)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    observations, _ = envs.reset(seed=[seed + i for i in range(num_envs)])
    envs.action_space.seed(seed)
    for i, sub in enumerate(envs.envs):
        sub.action_space.seed(seed + i)
    return envs, observations


def start_environments(
    config: BaseConfig, num_envs: int, resume: dict[str, Any] | None
) -> tuple[SyncVectorEnv, np.ndarray, EpisodeTracker, int]:
    """Fresh seeded environments at step 0, or those pickled in a checkpoint, mid-episode.

    Returns ``(envs, current observations, episode tracker, step)``.
    """
    if resume is None:
        envs, observations = make_vector_env(config.env_id, num_envs, config.seed)
        return envs, observations, EpisodeTracker(num_envs), 0
    return resume["envs"], resume["observations"], resume["tracker"], int(resume["step"])


def true_next_observations(observations: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
    """The observations that followed this step: the auto-reset rows replaced by ``final_obs``."""
    mask = infos.get("_final_obs")
    if mask is None or not mask.any():
        return observations
    next_observations = observations.copy()
    for i in np.flatnonzero(mask):
        next_observations[i] = infos["final_obs"][i]
    return next_observations


def check_spaces(
    observation_space: gym.Space, action_space: gym.Space, algorithm: str, continuous: bool
) -> None:
    """Observations: a 1-D ``Box``; actions: ``Discrete`` (or a 1-D ``Box`` if ``continuous``)."""
    if not (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1):
        raise ConfigError(
            f"{algorithm} needs a flat Box observation space, got {observation_space}"
        )
    if isinstance(action_space, spaces.Discrete):
        if action_space.start != 0:
            raise ConfigError(
                f"{algorithm} needs Discrete actions starting at 0, got {action_space}"
            )
        return
    if continuous and isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
            raise ConfigError(f"{algorithm} needs a bounded Box action space, got {action_space}")
        return
    wanted = "Discrete or a flat Box" if continuous else "Discrete"
    raise ConfigError(f"{algorithm} needs a {wanted} action space, got {action_space}")


def check_finite(quantity: str, value: Any, step: int) -> None:
    """Raise :class:`NonFiniteError` if ``value`` (tensor, array or number) holds NaN or inf."""
    if isinstance(value, float | int):
        finite = math.isfinite(value)
    elif isinstance(value, torch.Tensor):
        finite = bool(torch.isfinite(value).all())
    else:
        finite = bool(np.isfinite(value).all())
    if not finite:
        raise NonFiniteError(f"non-finite {quantity} at step {step}: training stopped")


class EpisodeTracker:
    """Per-environment running return and length; reports each finished episode."""

    def __init__(self, num_envs: int) -> None:
        self.returns = np.zeros(num_envs, np.float64)
        self.lengths = np.zeros(num_envs, np.int64)

    def update(
        self, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray
    ) -> list[tuple[float, int]]:
        """Add one step; return ``(return, length)`` of every episode that just ended."""
        self.returns += rewards
        self.lengths += 1
        finished = []
        for i in np.flatnonzero(np.logical_or(terminated, truncated)):
            finished.append((float(self.returns[i]), int(self.lengths[i])))
            self.returns[i] = 0.0
            self.lengths[i] = 0
        return finished


def evaluate_policy(
    act: Callable[[np.ndarray], np.ndarray], env_id: str, episodes: int, seed: int
) -> list[float]:
    """Returns of ``episodes`` full episodes with ``act`` (batch ``[1, obs_dim]`` in, ``[1]`` out).

    The evaluation environments are seeded ``seed, seed + 1, ...`` (callers pass an offset seed,
    so evaluation never shares episodes with training).
    """
    env = gym.make(env_id)
    returns = []
    try:
        for episode in range(episodes):
            observation, _ = env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                action = act(observation[None])[0]
                if isinstance(env.action_space, spaces.Box):
                    action = np.clip(action, env.action_space.low, env.action_space.high)
                observation, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return returns


# --------------------------------------------------------------------------
# Files: atomic writes, the run folder, metrics, checkpoints, progress
# --------------------------------------------------------------------------


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _csv_text(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _read_csv(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, newline="") as file:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(file)]


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class Run:
    """A run folder: config, metrics, checkpoints, progress display, interrupt handling.

    The agent's loop calls :meth:`log_episode`, :meth:`log_update` and, once per iteration,
    :meth:`tick` with the current step and a ``snapshot`` callable returning the checkpoint
    dict (networks, optimizers, environments, replay buffer, random states: everything needed
    to continue exactly). :meth:`tick` writes a checkpoint every ``checkpoint_interval`` steps,
    flushing the metrics with it, so a checkpoint and the metrics always describe the same step.

    Ctrl-C (inside :meth:`interrupt_guard`) only sets a flag; the next :meth:`tick`, a point
    where the loop's state is consistent, saves the checkpoint and the metrics and raises
    ``KeyboardInterrupt``. A second Ctrl-C interrupts at once.
    """

    def __init__(
        self,
        directory: Path | str,
        algorithm: str,
        config: Any,
        *,
        progress: bool = True,
        resume: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.algorithm = algorithm
        self.config = config
        self.show_progress = progress
        self.episodes: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        if resume:
            self.episodes = _read_csv(self.directory / "episodes.csv")
            self.updates = _read_csv(self.directory / "updates.csv")
            self.evaluations = _read_csv(self.directory / "evaluations.csv")
        self.recent_returns: deque[float] = deque(
            (row["return"] for row in self.episodes[-20:]), maxlen=20
        )
        self.best_evaluation = max(
            (row["mean_return"] for row in self.evaluations), default=-math.inf
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.directory / "config.json",
            json.dumps({"algorithm": algorithm, **config_to_dict(config)}, indent=2) + "\n",
        )
        self._snapshot: Callable[[], dict[str, Any]] | None = None
        self._last_checkpoint = 0
        self._last_evaluation = 0
        self.interrupt_requested = False
        self.saved_on_interrupt = False
        self._last_display = 0.0
        self._start_time = time.perf_counter()
        self.start_step = 0  # where this process began (a resumed run's checkpoint step)
        self._ticked = False
        self.step = 0

    def resume_from(self, step: int) -> None:
        """Continue the checkpoint and evaluation schedules of a run resumed at ``step``."""
        self.step = self.start_step = step
        self._last_checkpoint = step - step % self.config.checkpoint_interval
        if self.config.eval_interval > 0:
            self._last_evaluation = step - step % self.config.eval_interval

    # metrics -----------------------------------------------------------------
    def log_episode(self, step: int, episode_return: float, length: int) -> None:
        self.episodes.append({"step": step, "return": episode_return, "length": length})
        self.recent_returns.append(episode_return)

    def log_update(self, step: int, **metrics: float) -> None:
        for name, value in metrics.items():
            check_finite(name, value, step)
        self.updates.append({"step": step, **{k: float(v) for k, v in metrics.items()}})

    def log_evaluation(self, step: int, returns: list[float]) -> float:
        mean = float(np.mean(returns))
        self.evaluations.append(
            {"step": step, "mean_return": mean, "std_return": float(np.std(returns))}
        )
        return mean

    # checkpoints and periodic work ----------------------------------------------
    def tick(
        self,
        step: int,
        snapshot: Callable[[], dict[str, Any]],
        evaluate: Callable[[], list[float]] | None = None,
    ) -> None:
        """Once per loop iteration: progress, periodic evaluation and checkpoint."""
        self.step = step
        self._snapshot = snapshot
        self._ticked = True
        if self.interrupt_requested:
            self.save(snapshot())
            self.saved_on_interrupt = True
            raise KeyboardInterrupt
        interval = self.config.eval_interval
        if evaluate is not None and interval > 0 and step - self._last_evaluation >= interval:
            self._last_evaluation = step - step % interval
            mean = self.log_evaluation(step, evaluate())
            if mean > self.best_evaluation:
                self.best_evaluation = mean
                self.save(snapshot(), name="best.pt")
        if step - self._last_checkpoint >= self.config.checkpoint_interval:
            self._last_checkpoint = step - step % self.config.checkpoint_interval
            self.save(snapshot())
        self._display(step)

    def save(self, state: dict[str, Any], name: str = "last.pt") -> None:
        """Write the checkpoint ``name`` and flush every metrics file, atomically."""
        buffer = io.BytesIO()
        torch.save({"algorithm": self.algorithm, "step": self.step, **state}, buffer)
        atomic_write_bytes(self.directory / "checkpoints" / name, buffer.getvalue())
        self.flush()

    def save_latest(self) -> None:
        """Checkpoint the latest snapshot (used on Ctrl-C and at the end)."""
        if self._snapshot is not None:
            self.save(self._snapshot())
        else:
            self.flush()

    def flush(self) -> None:
        for name, rows in (
            ("episodes.csv", self.episodes),
            ("updates.csv", self.updates),
            ("evaluations.csv", self.evaluations),
        ):
            if rows:
                atomic_write_text(self.directory / name, _csv_text(rows))

    def plot(self) -> None:
        """``learning_curve.png``: episode returns (and evaluations) against steps."""
        if not self.episodes:
            return
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        steps = np.array([row["step"] for row in self.episodes])
        returns = np.array([row["return"] for row in self.episodes], dtype=np.float64)
        window = max(1, min(20, len(returns)))
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        figure, axes = plt.subplots(figsize=(7, 4))
        axes.plot(steps, returns, alpha=0.3, label="episode return")
        axes.plot(steps[window - 1 :], smooth, label=f"mean of last {window}")
        if self.evaluations:
            axes.plot(
                [row["step"] for row in self.evaluations],
                [row["mean_return"] for row in self.evaluations],
                "o-",
                label="evaluation",
            )
        axes.set_xlabel("environment steps")
        axes.set_ylabel("return")
        axes.set_title(f"{self.algorithm} on {self.config.env_id} (seed {self.config.seed})")
        axes.legend()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        plt.close(figure)
        atomic_write_bytes(self.directory / "learning_curve.png", buffer.getvalue())

    # progress ------------------------------------------------------------------
    def _display(self, step: int, final: bool = False) -> None:
        if not self.show_progress:
            return
        now = time.perf_counter()
        if not final and now - self._last_display < 0.5:
            return
        self._last_display = now
        elapsed = max(now - self._start_time, 1e-9)
        rate = (step - self.start_step) / elapsed
        total = self.config.total_steps
        recent = f"{np.mean(self.recent_returns):8.1f}" if self.recent_returns else "     n/a"
        width = 24
        filled = int(width * min(step, total) / max(total, 1))
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(
            f"\r{self.algorithm} [{bar}] {step}/{total} steps  {rate:7.0f} steps/s  "
            f"recent return {recent}"
        )
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self._ticked:
            self._display(self.step, final=True)

    def interrupt_guard(self) -> _InterruptGuard:
        """Context manager: the first Ctrl-C is deferred to the next :meth:`tick`."""
        return _InterruptGuard(self)


class _InterruptGuard:
    def __init__(self, run: Run) -> None:
        self.run = run
        self.previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.run.interrupt_requested:
            raise KeyboardInterrupt
        self.run.interrupt_requested = True

    def __enter__(self) -> _InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
