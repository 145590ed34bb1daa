"""The run folder: the resolved config, the metrics, the checkpoints, the learning curve.

A run folder holds ``config.json`` (the resolved config), ``episodes.csv`` (one row per
finished episode), ``updates.csv`` (one row per update), ``evaluations.csv``,
``learning_curve.png``, ``summary.json`` and ``checkpoints/last.pt`` (``best.pt``: the agent
with the best evaluation), and ``.lock``. Every file is written atomically
(:mod:`drlspec.agents.files`).

One run per folder: a process training or resuming a run holds an exclusive ``flock`` on
``.lock`` for as long as it works there (the system drops it when the process dies, however it
dies), and a second process is refused. :func:`new_run_folder` claims a folder for a new run:
a default name is created exclusively (a suffix ``-2``, ``-3``, ... where another run took it),
an existing folder with files in it is refused.

Checkpoints and resume: ``last.pt`` holds everything the loop needs to continue exactly:
networks, optimizers, the replay buffer, the environments mid-episode (pickled), the episode
tracker and every random state, and under ``"run"`` how many rows of each metrics file
describe it. The metrics files are written before ``last.pt``, so a run stopped between the
two (even by SIGKILL) has rows the checkpoint does not know yet; resume drops them, and the
metrics continue exactly from the checkpoint. Resuming with an unchanged config reproduces
the uninterrupted run bit for bit; raising ``total_steps`` on resume also stretches the
schedules that depend on it (epsilon decay, learning-rate annealing). Checkpoints are
pickles: load only run folders you trust.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drlspec.agents.config import ConfigError, config_to_dict
from drlspec.agents.files import atomic_write_bytes, atomic_write_text, csv_text, read_csv
from drlspec.agents.guards import check_finite
from drlspec.agents.interrupts import InterruptGuard, interrupt_hook
from drlspec.agents.progress import ProgressDisplay

__all__ = [
    "LOCK",
    "METRICS",
    "Run",
    "RunInterrupted",
    "hold_run_folder",
    "load_checkpoint",
    "new_run_folder",
]

LOCK = ".lock"
METRICS = ("episodes.csv", "updates.csv", "evaluations.csv")

# Folders this process holds: resolved path -> [lock file, holders, created by this process].
# A process may hold its own folder several times (the CLI claims it, then train() holds it).
_HELD: dict[Path, list[Any]] = {}
_HELD_LOCK = threading.Lock()


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; says what the run folder holds for ``--resume``.

    ``step``: the step of the checkpoint ``last.pt`` (the metrics files describe the same
    step), or ``None`` where none was written; ``removed``: the folder held nothing else and
    was removed.
    """

    def __init__(self, directory: Path, step: int | None, removed: bool = False) -> None:
        super().__init__(directory, step)
        self.directory, self.step, self.removed = directory, step, removed

    def __str__(self) -> str:
        if self.step is not None:
            return (
                f"interrupted: checkpoint at step {self.step} and metrics up to step "
                f"{self.step} saved in {self.directory}; continue with "
                f"`drlspec train --resume {self.directory}`"
            )
        fate = "removed" if self.removed else "kept, without a checkpoint"
        return (
            f"interrupted before the first checkpoint: nothing to resume; {self.directory} {fate}"
        )


def _folder_error(directory: Path, error: OSError) -> ConfigError:
    if isinstance(error, PermissionError):
        return ConfigError(f"cannot write in run folder {directory}: permission denied")
    if isinstance(error, (NotADirectoryError, FileExistsError)):
        return ConfigError(f"cannot use {directory} as a run folder: it or a parent is a file")
    return ConfigError(f"cannot use {directory} as a run folder: {error.strerror or error}")


@contextlib.contextmanager
def hold_run_folder(directory: Path | str, *, create: bool = True) -> Iterator[Path]:
    """Hold the run folder ``directory`` (created if ``create``) for the ``with`` block.

    A :class:`~drlspec.agents.config.ConfigError` where it cannot be written or where another
    process holds it (a run in progress).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"cannot use {directory} as a run folder: it is a file")
    created = False
    if create and not directory.exists():
        try:
            directory.mkdir(parents=True)
            created = True
        except FileExistsError:
            pass  # another process made it in between; the lock decides
        except OSError as error:
            raise _folder_error(directory, error) from None
    key = directory.resolve()
    with _HELD_LOCK:
        entry = _HELD.get(key)
        if entry is None:
            try:
                file = open(directory / LOCK, "a")
            except OSError as error:
                raise _folder_error(directory, error) from None
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.close()
                raise ConfigError(
                    f"{directory} is in use by another drlspec process (a run in progress); "
                    "wait for it to finish or stop it"
                ) from None
            entry = _HELD[key] = [file, 0, created]
        entry[1] += 1
    try:
        yield directory
    finally:
        with _HELD_LOCK:
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[key]
                entry[0].close()  # closing the file drops the flock


def _created_here(directory: Path) -> bool:
    entry = _HELD.get(directory.resolve())
    return bool(entry and entry[2])


def _other_files(directory: Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir() if entry.name != LOCK)


@contextlib.contextmanager
def new_run_folder(run_dir: Path | str | None, default: Path | str) -> Iterator[Path]:
    """Claim a folder for a new run and hold it for the ``with`` block.

    ``run_dir`` (a ``--run-dir``) must not exist or be empty: a folder with files in it is
    refused, never overwritten. Without it, ``default`` is created exclusively, with a suffix
    ``-2``, ``-3``, ... where that name is taken (two runs started in the same second).
    """
    if run_dir is None:
        directory = Path(default)
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _folder_error(directory.parent, error) from None
        base, number = directory, 1
        while True:
            try:
                directory.mkdir()
                break
            except FileExistsError:
                number += 1
                directory = base.with_name(f"{base.name}-{number}")
            except OSError as error:
                raise _folder_error(directory, error) from None
        with hold_run_folder(directory) as held:
            with _HELD_LOCK:
                _HELD[held.resolve()][2] = True  # made here: removable if nothing is saved
            try:
                yield held
            except BaseException:
                # Stopped before the run wrote anything (Ctrl-C while starting): no orphan.
                if held.is_dir() and not _other_files(held):
                    (held / LOCK).unlink(missing_ok=True)
                    held.rmdir()
                raise
        return
    directory = Path(run_dir)

    def refuse_if_used() -> None:
        if directory.is_dir() and _other_files(directory):
            raise ConfigError(
                f"{directory} already holds files (a run?); continue a run with "
                f"--resume {directory}, or choose another --run-dir"
            )

    refuse_if_used()  # before the lock, so that a refused folder gets no lock file
    with hold_run_folder(directory) as held:
        refuse_if_used()  # again under the lock: another process may have started there
        yield held


def load_checkpoint(path: Path, device: str) -> dict[str, Any]:
    """A checkpoint written by :meth:`Run.save`; a ``ConfigError`` naming the file if it is not."""
    if not path.is_file():
        raise ConfigError(f"{path.parent.parent} has no checkpoint {path.name} to resume from")
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # truncated, empty, not a pickle, from an unknown version
        reason = "empty" if path.stat().st_size == 0 else f"unreadable ({type(error).__name__})"
        raise ConfigError(f"{path} is {reason}: not a checkpoint drlspec can load") from None
    if not isinstance(state, dict) or "step" not in state:
        raise ConfigError(f"{path} is not a drlspec checkpoint")
    return state


class Run:
    """A run folder: config, metrics, checkpoints, progress display, interrupt handling.

    The agent's loop calls :meth:`log_episode`, :meth:`log_update` and, once per iteration,
    :meth:`tick` with the current step and a ``snapshot`` callable returning the checkpoint
    dict (networks, optimizers, environments, replay buffer, random states: everything needed
    to continue exactly). :meth:`tick` writes a checkpoint every ``checkpoint_interval`` steps,
    flushing the metrics with it, so a checkpoint and the metrics always describe the same step.

    Ctrl-C (inside :meth:`interrupt_guard`) only sets a flag; the next :meth:`tick`, a point
    where the loop's state is consistent, saves the checkpoint and the metrics and raises
    :class:`RunInterrupted` (a ``KeyboardInterrupt``). An evaluation under way is abandoned
    (it draws nothing training uses); the checkpoint then says it is still due, and the
    resumed run plays it first. A second Ctrl-C interrupts at once: the folder keeps the last
    checkpoint written and the metrics of its step.
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
            try:
                self.episodes, self.updates, self.evaluations = (
                    read_csv(self.directory / name) for name in METRICS
                )
            except (ValueError, OSError, UnicodeDecodeError) as error:
                raise ConfigError(f"{self.directory}: unreadable metrics file ({error})") from None
        self._recount()
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.directory / "config.json",
            json.dumps({"algorithm": algorithm, **config_to_dict(config)}, indent=2) + "\n",
        )
        self._snapshot: Callable[[], dict[str, Any]] | None = None
        self._last_checkpoint = 0
        self._last_evaluation = 0
        self.interrupt_requested = False
        self.writing = False  # a run file is being written: Ctrl-C waits for it
        self.saved_step: int | None = None  # the step of last.pt on disk
        self.display = ProgressDisplay(algorithm, config.total_steps, enabled=progress)
        self.start_step = 0  # where this process began (a resumed run's checkpoint step)
        self._ticked = False
        self.step = 0

    @property
    def saved_on_interrupt(self) -> bool:
        """Whether ``last.pt`` holds the step training stopped at."""
        return self.saved_step == self.step

    def _recount(self) -> None:
        self.recent_returns: deque[float] = deque(
            (row["return"] for row in self.episodes[-20:]), maxlen=20
        )
        self.best_evaluation = max(
            (row["mean_return"] for row in self.evaluations), default=-math.inf
        )

    def resume_from(self, state: dict[str, Any] | int, *, keep_rows: bool = False) -> None:
        """Continue the metrics, checkpoint and evaluation schedules of a checkpoint.

        ``state``: the checkpoint dict (or, from older callers, its step). Metrics rows
        written after the checkpoint are dropped (the resumed loop writes them again), unless
        ``keep_rows`` (a finished run trained further: the rows after its last checkpoint are
        its final evaluation).
        """
        meta: dict[str, Any] = {}
        if isinstance(state, dict):
            step = int(state["step"])
            meta = state.get("run") or {}
        else:
            step = int(state)
        self.step = self.start_step = self.saved_step = step
        self._last_checkpoint = step - step % self.config.checkpoint_interval
        if self.config.eval_interval > 0:
            self._last_evaluation = step - step % self.config.eval_interval
        if "last_evaluation" in meta:
            self._last_evaluation = int(meta["last_evaluation"])
        rows = meta.get("rows")
        if rows and not keep_rows:
            self.episodes = self.episodes[: rows["episodes"]]
            self.updates = self.updates[: rows["updates"]]
            self.evaluations = self.evaluations[: rows["evaluations"]]
            self._recount()

    def catch_up(self, state: dict[str, Any], evaluate: Callable[[], list[float]]) -> None:
        """On resume: play the evaluation due at the checkpoint's step if Ctrl-C stopped it.

        ``state``: the checkpoint just restored, which is the training state of this step.
        """
        if self._evaluation_due(self.step):
            self._evaluate(self.step, lambda: state, evaluate)

    # metrics -----------------------------------------------------------------
    def log_episode(self, step: int, episode_return: float, length: int) -> None:
        interrupt_hook("training")
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
        try:
            if not self.interrupt_requested:
                if evaluate is not None and self._evaluation_due(step):
                    self._evaluate(step, snapshot, evaluate)
                if step - self._last_checkpoint >= self.config.checkpoint_interval:
                    self._last_checkpoint = step - step % self.config.checkpoint_interval
                    self.save(snapshot())
        except KeyboardInterrupt:
            # The loop's state is this step's whatever stopped here: an evaluation draws
            # nothing training uses, and a write is atomic. So a checkpoint of it is exact.
            self.interrupt_requested = True
        if self.interrupt_requested:
            self.stop(snapshot)
        self.display.show(step, self.start_step, self.recent_returns)

    def stop(self, snapshot: Callable[[], dict[str, Any]] | None = None) -> None:
        """At a consistent point: checkpoint this step (unless ``last.pt`` holds it), raise."""
        if snapshot is not None and self.saved_step != self.step:
            self.save(snapshot())
        raise RunInterrupted(self.directory, self.saved_step)

    def _evaluation_due(self, step: int) -> bool:
        interval = self.config.eval_interval
        return interval > 0 and step - self._last_evaluation >= interval

    def _evaluate(
        self,
        step: int,
        snapshot: Callable[[], dict[str, Any]],
        evaluate: Callable[[], list[float]],
    ) -> None:
        returns = evaluate()
        with self._deferring_interrupts():  # the row and its schedule change together
            mean = self.log_evaluation(step, returns)
            self._last_evaluation = step - step % self.config.eval_interval
        if mean > self.best_evaluation:
            self.best_evaluation = mean
            self.save(snapshot(), name="best.pt")

    @contextlib.contextmanager
    def _deferring_interrupts(self) -> Iterator[None]:
        outer = self.writing
        self.writing = True
        try:
            yield
        finally:
            self.writing = outer

    def save(self, state: dict[str, Any], name: str = "last.pt") -> None:
        """Flush every metrics file, then write the checkpoint ``name``, atomically.

        A Ctrl-C meanwhile waits for the end of the writes. ``last.pt`` records how many rows
        of each metrics file describe it (the files may be ahead of it if the process dies
        between the two writes; resume drops those rows).
        """
        with self._deferring_interrupts():
            self.flush()
            interrupt_hook("checkpoint")
            meta = {
                "rows": {
                    "episodes": len(self.episodes),
                    "updates": len(self.updates),
                    "evaluations": len(self.evaluations),
                },
                "last_evaluation": self._last_evaluation,
            }
            buffer = io.BytesIO()
            checkpoint = {**state, "algorithm": self.algorithm, "step": self.step, "run": meta}
            torch.save(checkpoint, buffer)
            atomic_write_bytes(self.directory / "checkpoints" / name, buffer.getvalue())
            if name == "last.pt":
                self.saved_step = self.step

    def save_latest(self) -> None:
        """Checkpoint the latest snapshot, unless ``last.pt`` already holds this step."""
        if self._snapshot is not None and self.saved_step != self.step:
            self.save(self._snapshot())
        else:
            self.flush()

    def flush(self) -> None:
        """Rewrite every metrics file that has rows."""
        with self._deferring_interrupts():
            for name, rows in zip(
                METRICS, (self.episodes, self.updates, self.evaluations), strict=True
            ):
                if rows:
                    atomic_write_text(self.directory / name, csv_text(rows))

    def abandon(self) -> RunInterrupted:
        """After a Ctrl-C outside a consistent point: what the folder holds for ``--resume``.

        Nothing new is written: the state of the loop may be part-way through a step, and
        ``last.pt`` with the rows it counts is the last exact state. A new run that never
        wrote ``last.pt`` and holds nothing but its config is removed (when it made the
        folder) or emptied.
        """
        if self.saved_step is not None or self.start_step:
            return RunInterrupted(self.directory, self.saved_step)
        ours = {"config.json", LOCK, "checkpoints"}
        names = set(_other_files(self.directory)) | {LOCK}
        checkpoints = self.directory / "checkpoints"
        if names <= ours and not (checkpoints.is_dir() and any(checkpoints.iterdir())):
            (self.directory / "config.json").unlink(missing_ok=True)
            if checkpoints.is_dir():
                checkpoints.rmdir()
            if _created_here(self.directory):
                (self.directory / LOCK).unlink(missing_ok=True)
                self.directory.rmdir()
            return RunInterrupted(self.directory, None, removed=True)
        return RunInterrupted(self.directory, None)

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
            self._ticked = False  # the line is ended once

    def interrupt_guard(self) -> InterruptGuard:
        """Context manager: the first Ctrl-C is deferred to the next :meth:`tick`, a Ctrl-C
        during a write to its end."""
        return InterruptGuard(self)
