"""The run folder: the resolved config, the metrics, the checkpoints, the learning curve.

A run folder holds ``config.json`` (the resolved config), ``episodes.csv`` (one row per
finished episode), ``updates.csv`` (one row per update), ``evaluations.csv``,
``learning_curve.png``, ``summary.json`` and ``checkpoints/last.pt`` (``best.pt``: the agent
with the best evaluation). Every file is written atomically (:mod:`drlspec.agents.files`).

Checkpoints and resume: ``last.pt`` holds everything the loop needs to continue exactly:
networks, optimizers, the replay buffer, the environments mid-episode (pickled), the episode
tracker and every random state. Resuming with an unchanged config reproduces the uninterrupted
run bit for bit; raising ``total_steps`` on resume also stretches the schedules that depend on
it (epsilon decay, learning-rate annealing). Checkpoints are pickles: load only run folders you
trust.
"""

from __future__ import annotations

import io
import json
import math
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drlspec.agents.config import config_to_dict
from drlspec.agents.files import atomic_write_bytes, atomic_write_text, csv_text, read_csv
from drlspec.agents.guards import check_finite
from drlspec.agents.interrupts import InterruptGuard
from drlspec.agents.progress import ProgressDisplay

__all__ = ["Run"]


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
        self.episodes: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        if resume:
            self.episodes = read_csv(self.directory / "episodes.csv")
            self.updates = read_csv(self.directory / "updates.csv")
            self.evaluations = read_csv(self.directory / "evaluations.csv")
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
        self.display = ProgressDisplay(algorithm, config.total_steps, enabled=progress)
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
        self.display.show(step, self.start_step, self.recent_returns)

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
        """Rewrite every metrics file that has rows."""
        for name, rows in (
            ("episodes.csv", self.episodes),
            ("updates.csv", self.updates),
            ("evaluations.csv", self.evaluations),
        ):
            if rows:
                atomic_write_text(self.directory / name, csv_text(rows))

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

    # progress and interrupts ----------------------------------------------------
    def finish(self) -> None:
        """End the progress line (if the loop ever ticked)."""
        if self._ticked:
            self.display.show(self.step, self.start_step, self.recent_returns, final=True)

    def interrupt_guard(self) -> InterruptGuard:
        """Context manager: the first Ctrl-C is deferred to the next :meth:`tick`."""
        return InterruptGuard(self)
