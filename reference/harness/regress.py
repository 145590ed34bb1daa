"""Convergence regression: the case table, one run, the verdict, the report.

A *case* is one row of ``reference/data/cases.toml``: an algorithm, an environment, a budget of
environment steps, a success threshold and a number of seeds. A *run* is one (case, seed,
device): train with :func:`drlspec.agents.train`, then play the final policy for the case's
evaluation episodes, seeded ``EVALUATION_SEED + i`` for every run (never a training seed), and
keep the mean return. The *verdict* of a (case, device) is taken over its seeds:

* the interquartile mean (IQM; ``scipy.stats.trim_mean(x, 0.25)``, Agarwal et al. 2021,
  "Deep RL at the Edge of the Statistical Precipice") of the runs' final returns, and a 95%
  percentile bootstrap interval of it (``scipy.stats.bootstrap``);
* PASS when the IQM reaches the environment's threshold and no run crashed.

(The statistics themselves, on one page: :mod:`drlspec.harness.gate`.)

Across cases, each device also gets an aggregate: the IQM of the runs' normalized scores
``(R - R_random) / (threshold - R_random)`` with a *stratified* bootstrap interval (seeds are
resampled within each case, so every case keeps its weight). It is reported, not judged.

The local runner (:func:`run_sweep`) spreads runs over a process pool (``spawn``, one torch
thread per worker), longest first, and rewrites the results JSON atomically after every run,
so an interrupted sweep leaves every finished run on disk. ``drlspec regress`` and
``pytest regression -m convergence`` both go through :func:`run_one` and :func:`judge`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import platform
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from drlspec.harness import gate
from drlspec.harness.gate import (
    bootstrap_interval,
    interquartile_mean,
    passes,
    stratified_iqm,
)
from drlspec.harness.target import UsageError

__all__ = [
    "EVALUATION_SEED",
    "Case",
    "default_table",
    "format_table",
    "judge",
    "judge_all",
    "load_cases",
    "plot_curves",
    "run_one",
    "run_sweep",
    "select_cases",
]

EVALUATION_SEED = 1_000_000
"""Evaluation episode ``i`` of every run is reset with seed ``EVALUATION_SEED + i``."""

CURVE_POINTS = 41
"""Points of each run's stored learning curve (0, 2.5%, ..., 100% of the budget)."""

CURVE_WINDOW = 10
"""A curve point is the mean return of the last ``CURVE_WINDOW`` episodes finished by then."""

DEVICES = ("cpu", "cuda")

PYTEST_PROPERTY = "drlspec_regression"
"""The ``user_properties`` key that carries a pytest item's verdict and runs."""


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row of the case table."""

    algorithm: str
    env_id: str
    steps: int
    threshold: float
    random_return: float
    seeds: int
    smoke_seeds: int
    eval_episodes: int
    seconds: float
    overrides: tuple[tuple[str, Any], ...] = ()
    source: str = ""

    @property
    def name(self) -> str:
        return f"{self.algorithm}-{self.env_id}"

    def assignments(self) -> list[str]:
        """The overrides as ``--set`` strings (``key=value``)."""
        return [f"{key}={_setting_text(value)}" for key, value in self.overrides]

    def identity(self) -> dict[str, Any]:
        """What a run's outcome depends on (not seeds, timing, tiers or comments), JSON-ready."""
        return {
            "algorithm": self.algorithm,
            "env_id": self.env_id,
            "steps": self.steps,
            "eval_episodes": self.eval_episodes,
            "overrides": [[key, value] for key, value in self.overrides],
        }

    def normalized(self, returns: np.ndarray) -> np.ndarray:
        """0 at the random policy's return, 1 at the threshold."""
        return (returns - self.random_return) / (self.threshold - self.random_return)


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


_CASE_KEYS = {"algorithm", "env", "steps", "seeds", "smoke_seeds", "eval_episodes", "seconds"}
_CASE_KEYS |= {"set", "source"}


def default_table() -> Path:
    """The convergence table shipped with the package (``reference/data/cases.toml``)."""
    return Path(__file__).resolve().parents[1] / "data" / "cases.toml"


def load_cases(path: Path | str) -> list[Case]:
    """The cases of a table file; a malformed table is a :class:`UsageError` naming the row."""
    from drlspec.agents import ALGORITHMS

    path = Path(path)
    try:
        table = tomllib.loads(path.read_text())
    except OSError as error:
        raise UsageError(f"cannot read the case table {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path}: not valid TOML ({error})") from None
    defaults = table.get("defaults", {})
    environments = table.get("environments", {})
    cases: list[Case] = []
    for index, row in enumerate(table.get("case", []), start=1):
        where = f"{path.name}, case {index}"
        unknown = set(row) - _CASE_KEYS
        if unknown:
            raise UsageError(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("algorithm", "env", "steps"):
            if key not in row:
                raise UsageError(f"{where}: missing {key!r}")
        if row["algorithm"] not in ALGORITHMS:
            raise UsageError(f"{where}: unknown algorithm {row['algorithm']!r}")
        environment = environments.get(row["env"])
        if environment is None or "threshold" not in environment:
            raise UsageError(f'{where}: no [environments."{row["env"]}"] threshold')
        case = Case(
            algorithm=row["algorithm"],
            env_id=row["env"],
            steps=int(row["steps"]),
            threshold=float(environment["threshold"]),
            random_return=float(environment.get("random_return", 0.0)),
            seeds=int(row.get("seeds", defaults.get("seeds", 5))),
            smoke_seeds=int(row.get("smoke_seeds", 0)),
            eval_episodes=int(row.get("eval_episodes", defaults.get("eval_episodes", 10))),
            seconds=float(row.get("seconds", row["steps"] / 1000)),
            overrides=tuple(sorted(row.get("set", {}).items())),
            source=row.get("source", ""),
        )
        if case.steps < 1 or case.seeds < 1 or case.smoke_seeds < 0 or case.eval_episodes < 1:
            raise UsageError(f"{where}: steps, seeds and eval_episodes must be positive")
        if case.threshold <= case.random_return:
            raise UsageError(f"{where}: the threshold must exceed random_return")
        if any(c.name == case.name for c in cases):
            raise UsageError(f"{where}: {case.name} appears twice")
        cases.append(case)
    if not cases:
        raise UsageError(f"{path}: no [[case]] rows")
    return cases


_TOKEN = re.compile(r"\s*(\(|\)|[\w.*\-]+)")


def select_cases(cases: Sequence[Case], expression: str | None) -> list[Case]:
    """The cases whose name matches a ``-k``-style expression.

    A word matches a case when it is a case-insensitive substring of the case's name
    (``ppo``, ``CartPole``, ``dqn-Acrobot``); words combine with ``and``, ``or``, ``not`` and
    parentheses. ``None`` or an empty expression selects every case.
    """
    if not expression or not expression.strip():
        return list(cases)
    tokens, position = [], 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            if expression[position:].strip():
                raise UsageError(f"--select: cannot parse {expression[position:]!r}")
            break
        tokens.append(match.group(1))
        position = match.end()

    def evaluate(name: str) -> bool:
        parts = []
        for token in tokens:
            if token in ("and", "or", "not", "(", ")"):
                parts.append(token)
            else:
                parts.append(str(token.lower() in name.lower()))
        try:
            return bool(eval(" ".join(parts), {"__builtins__": {}}, {}))
        except SyntaxError:
            raise UsageError(f"--select: not a valid expression: {expression!r}") from None

    selected = [case for case in cases if evaluate(case.name)]
    if not selected:
        raise UsageError(
            f"--select {expression!r} matches no case; cases: " + ", ".join(c.name for c in cases)
        )
    return selected


# --------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------


def run_one(case: Case, seed: int, device: str, run_root: Path | str) -> dict[str, Any]:
    """Train and evaluate one (case, seed, device); never raises for a failed run.

    Returns a JSON-ready record: ``status`` ("ok" or "error"), ``final_return`` (mean over the
    evaluation episodes), ``eval_returns``, ``train_seconds`` and ``curve`` (the learning curve
    on a fixed grid of ``CURVE_POINTS`` steps). A run that raises is recorded as "error" with
    the exception, and counts as a failed seed.
    """
    import torch

    from drlspec.agents import make_config, train

    torch.set_num_threads(1)
    record: dict[str, Any] = {"case": case.name, "seed": seed, "device": device}
    run_dir = Path(run_root) / f"{case.name}-{device}-seed{seed}"
    start = time.perf_counter()
    try:
        config = make_config(
            case.algorithm,
            env_id=case.env_id,
            total_steps=case.steps,
            seed=seed,
            device=device,
            overrides=case.assignments(),
        )
        summary = train(
            case.algorithm,
            config,
            run_dir,
            progress=False,
            eval_seed=EVALUATION_SEED,
            eval_episodes=case.eval_episodes,
        )
    except Exception as error:  # a crash is a failed seed, reported with its cause
        return _failed(record, error, start)
    record.update(
        status="ok",
        final_return=summary["eval_mean_return"],
        eval_returns=summary["eval_returns"],
        train_seconds=summary["train_seconds"],
        seconds=round(time.perf_counter() - start, 1),
        curve=learning_curve(run_dir / "episodes.csv", case.steps),
        run_dir=str(run_dir),
    )
    return record


def _failed(record: dict[str, Any], error: Exception, start: float) -> dict[str, Any]:
    """``record`` of a run that raised: status "error", the exception and its traceback."""
    record.update(
        status="error",
        error=f"{type(error).__name__}: {error}",
        traceback=traceback.format_exc(limit=8),
        seconds=round(time.perf_counter() - start, 1),
    )
    return record


def learning_curve(episodes_csv: Path, steps: int) -> list[float | None]:
    """Mean return of the last ``CURVE_WINDOW`` episodes finished by each grid step."""
    if not episodes_csv.exists():
        return [None] * CURVE_POINTS
    rows = np.loadtxt(episodes_csv, delimiter=",", skiprows=1, ndmin=2, usecols=(0, 1))
    return curve_of_episodes(rows, steps)


def curve_of_episodes(episodes: np.ndarray, steps: int) -> list[float | None]:
    """The learning curve of ``[E, 2]`` (step at the episode's end, return) pairs, in order."""
    grid = np.linspace(0, steps, CURVE_POINTS)
    episodes = np.asarray(episodes, dtype=float).reshape(-1, 2)
    ends, returns = episodes[:, 0], episodes[:, 1]
    curve: list[float | None] = []
    for point in grid:
        finished = int(np.searchsorted(ends, point, side="right"))
        if finished == 0:
            curve.append(None)
        else:
            curve.append(
                round(float(returns[max(0, finished - CURVE_WINDOW) : finished].mean()), 3)
            )
    return curve


class ExternalRun:
    """One run of an implementation that is not ours (:mod:`drlspec.external`): a picklable
    stand-in for :func:`run_one` that the process pool and Ray ship to their workers.

    ``targets`` maps an algorithm of the table to a train function's target
    (``package.module:attr`` or an absolute ``/path/file.py:attr``). The run trains with the
    target for the case's environment, seed, budget and device, then evaluates its act function
    exactly as :func:`run_one` evaluates a reference agent. The record is :func:`run_one`'s
    with ``implementation`` (the target) added; ``curve`` is all ``None`` unless the train
    function reported its episodes.
    """

    def __init__(self, targets: dict[str, str]) -> None:
        self.targets = dict(targets)

    def __call__(self, case: Case, seed: int, device: str, run_root: Path | str) -> dict[str, Any]:
        import torch

        from drlspec.external import act_of, call_train, check_train_function, episodes_of
        from drlspec.harness.target import load_object

        torch.set_num_threads(1)
        target = self.targets[case.algorithm]
        record: dict[str, Any] = {
            "case": case.name,
            "seed": seed,
            "device": device,
            "implementation": target,
        }
        start = time.perf_counter()
        try:
            train = load_object(target)
            check_train_function(train, target)
            trained = call_train(train, case.env_id, seed, case.steps, device)
            train_seconds = time.perf_counter() - start
            episodes = episodes_of(trained)  # float64 [E, 2]: JSON-ready values
            returns = evaluate_deterministic(act_of(trained), case)
        except Exception as error:  # a crash is a failed seed, reported with its cause
            return _failed(record, error, start)
        record.update(
            status="ok",
            final_return=float(np.mean(returns)),
            eval_returns=returns,
            train_seconds=round(train_seconds, 2),
            seconds=round(time.perf_counter() - start, 1),
            curve=None if episodes is None else curve_of_episodes(episodes, case.steps),
            steps_reported=float(episodes[-1, 0])
            if episodes is not None and len(episodes)
            else None,
        )
        return record


def evaluate_deterministic(act: Callable[[np.ndarray], Any], case: Case) -> list[float]:
    """The case's evaluation episodes played with an external act function.

    The actions are read as numpy (a torch tensor is accepted) and must come one per
    observation; the act function is asked twice for each of the first ``eval_episodes``
    distinct observations it sees and must answer the same both times (the protocol promises a
    deterministic policy).
    """
    from drlspec.agents.evaluation import evaluate_policy

    asked: set[int] = set()

    def checked(observations: np.ndarray) -> np.ndarray:
        actions = _as_actions(act(observations), observations)
        key = hash(observations.tobytes())
        if key not in asked and len(asked) < case.eval_episodes:
            asked.add(key)
            again = _as_actions(act(observations.copy()), observations)
            if not np.array_equal(actions, again):
                raise ValueError(
                    "the act function is not deterministic: the same observation gave "
                    f"{actions.tolist()} and then {again.tolist()}"
                )
        return actions

    return evaluate_policy(checked, case.env_id, case.eval_episodes, EVALUATION_SEED)


def _as_actions(actions: Any, observations: np.ndarray) -> np.ndarray:
    if hasattr(actions, "detach"):
        actions = actions.detach().cpu().numpy()
    actions = np.asarray(actions)
    if actions.ndim == 0 or actions.shape[0] != observations.shape[0]:
        raise ValueError(
            f"the act function returned actions of shape {actions.shape} for observations of "
            f"shape {observations.shape}; expected one action per observation"
        )
    if not np.issubdtype(actions.dtype, np.number) or not np.isfinite(actions).all():
        raise ValueError(f"the act function returned non-finite actions {actions.tolist()}")
    return actions


# --------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------


def judge(case: Case, device: str, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The verdict of one (case, device) from its runs' records."""
    verdict: dict[str, Any] = {
        "case": case.name,
        "algorithm": case.algorithm,
        "env_id": case.env_id,
        "device": device,
        "steps": case.steps,
        "threshold": case.threshold,
        "seeds": sorted(r["seed"] for r in runs),
    }
    if not runs:
        return {**verdict, "status": "missing", "passed": False}
    runs = sorted(runs, key=lambda r: r["seed"])  # completion order must not move the interval
    finals = np.array([r["final_return"] for r in runs if r["status"] == "ok"], dtype=float)
    errors = [f"seed {r['seed']}: {r['error']}" for r in runs if r["status"] != "ok"]
    verdict["final_returns"] = [round(float(x), 3) for x in finals]
    verdict["errors"] = errors
    verdict["seconds"] = round(float(np.median([r["seconds"] for r in runs])), 1)
    if finals.size == 0:
        return {**verdict, "status": "error", "passed": False}
    iqm = float(interquartile_mean(finals))
    low, high = bootstrap_interval([finals], interquartile_mean)
    passed = passes(iqm, case.threshold, crashed=bool(errors))
    return {
        **verdict,
        "iqm": iqm,
        "ci_low": low,
        "ci_high": high,
        "status": "pass" if passed else "fail",
        "passed": passed,
    }


def false_failure_rate(
    case: Case, finals: Sequence[float], seeds: int, resamples: int = 100_000
) -> float:
    """P(the IQM of ``seeds`` runs misses the case's threshold), seeds drawn from ``finals``
    (see :func:`drlspec.harness.gate.false_failure_rate`)."""
    return gate.false_failure_rate(finals, case.threshold, seeds, resamples)


def aggregate(cases: Sequence[Case], device: str, runs: Sequence[dict]) -> dict | None:
    """IQM of normalized scores over every case's seeds, stratified bootstrap by case."""
    samples = []
    for case in cases:
        finals = [
            r["final_return"]
            for r in sorted(runs, key=lambda r: r["seed"])
            if r["case"] == case.name and r["device"] == device and r["status"] == "ok"
        ]
        if finals:
            samples.append(case.normalized(np.asarray(finals, dtype=float)))
    if not samples:
        return None
    normalized_iqm, low, high = stratified_iqm(samples)
    return {
        "device": device,
        "cases": len(samples),
        "normalized_iqm": normalized_iqm,
        "ci_low": low,
        "ci_high": high,
    }


def judge_all(
    cases: Sequence[Case], devices: Sequence[str], runs: Sequence[dict], skipped: dict[str, str]
) -> list[dict[str, Any]]:
    """One verdict per (case, device); a skipped device's verdicts say why."""
    verdicts = []
    for case in cases:
        for device in devices:
            if device in skipped:
                verdicts.append(
                    {
                        "case": case.name,
                        "device": device,
                        "threshold": case.threshold,
                        "steps": case.steps,
                        "status": "skipped",
                        "reason": skipped[device],
                        "passed": True,
                    }
                )
                continue
            mine = [r for r in runs if r["case"] == case.name and r["device"] == device]
            verdicts.append(judge(case, device, mine))
    return verdicts


# --------------------------------------------------------------------------
# Report: table, JSON, learning curves
# --------------------------------------------------------------------------


def format_table(verdicts: Sequence[dict], aggregates: Iterable[dict | None] = ()) -> str:
    """The terminal summary: one line per (case, device)."""
    header = (
        f"{'case':<28} {'device':<6} {'seeds':>5} {'steps':>8} {'threshold':>9} "
        f"{'IQM':>8}  {'95% CI':<19} {'verdict':<7} {'s/seed':>6}"
    )
    lines = [header, "-" * len(header)]
    for v in verdicts:
        head = f"{v['case']:<28} {v['device']:<6}"
        if v["status"] == "skipped":
            lines.append(f"{head} SKIPPED: {v['reason']}")
            continue
        if "iqm" not in v:
            lines.append(f"{head} {v['status'].upper()}: {'; '.join(v.get('errors', []))}")
            continue
        interval = f"[{v['ci_low']:.1f}, {v['ci_high']:.1f}]"
        lines.append(
            f"{head} {len(v['seeds']):>5} {v['steps']:>8} {v['threshold']:>9.1f} "
            f"{v['iqm']:>8.1f}  {interval:<19} {v['status'].upper():<7} {v['seconds']:>6.0f}"
        )
        for error in v.get("errors", []):
            lines.append(f"    error: {error}")
    for agg in aggregates:
        if agg is not None:
            lines.append(
                f"aggregate on {agg['device']}: normalized IQM {agg['normalized_iqm']:.3f} "
                f"[{agg['ci_low']:.3f}, {agg['ci_high']:.3f}] over {agg['cases']} cases "
                "(0 = random policy, 1 = threshold; stratified bootstrap)"
            )
    return "\n".join(lines)


def plot_curves(
    cases: Sequence[Case], runs: Sequence[dict], path: Path, verdicts: Sequence[dict] = ()
) -> None:
    """One panel per case: median and interquartile band over seeds per device, threshold."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = [c for c in cases if any(r["case"] == c.name and r.get("curve") for r in runs)]
    if not shown:
        return
    columns = min(4, len(shown))
    rows = -(-len(shown) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    colours = {"cpu": "tab:blue", "cuda": "tab:green"}
    for panel, case in zip(axes.flat, shown, strict=False):
        grid = np.linspace(0, case.steps, CURVE_POINTS)
        for device in DEVICES:
            curves = [
                r["curve"]
                for r in runs
                if r["case"] == case.name and r["device"] == device and r.get("curve")
            ]
            if not curves:
                continue
            values = np.array([[np.nan if x is None else x for x in c] for c in curves])
            valid = ~np.all(np.isnan(values), axis=0)
            low, median, high = np.nanpercentile(values[:, valid], [25, 50, 75], axis=0)
            colour = colours[device]
            label = f"{device} median"
            for v in verdicts:
                if v["case"] == case.name and v["device"] == device and "iqm" in v:
                    label += f" (final IQM {v['iqm']:.0f}, {v['status'].upper()})"
            panel.plot(grid[valid], median, color=colour, label=label)
            panel.fill_between(grid[valid], low, high, color=colour, alpha=0.25, lw=0)
        panel.axhline(case.threshold, color="black", ls="--", lw=1, label="threshold")
        seeds = len({r["seed"] for r in runs if r["case"] == case.name})
        panel.set_title(f"{case.name} ({seeds} seeds)", fontsize=10)
        panel.set_xlabel("environment steps", fontsize=8)
        panel.set_ylabel("episode return", fontsize=8)
        panel.tick_params(labelsize=7)
        panel.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
        panel.legend(fontsize=7, loc="best")
    for panel in list(axes.flat)[len(shown) :]:
        panel.set_visible(False)
    figure.suptitle(
        "Training return (mean of the last 10 episodes): median over seeds, "
        "interquartile band; dashed: threshold",
        fontsize=10,
    )
    figure.tight_layout()
    save_figure(figure, path)


def save_figure(figure: Any, path: Path) -> None:
    """Write a matplotlib figure as a PNG, atomically, and close it."""
    import io

    from matplotlib import pyplot as plt

    from drlspec.agents.files import atomic_write_bytes

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def calibration_finals(
    paths: Iterable[Path | str], cases: Sequence[Case]
) -> dict[str, dict[int, float]]:
    """Per case, seed -> final return of every finished CPU run in the given results files
    whose case definition equals the table's (runs made with other settings are left out).

    Keyed by seed: two sweeps of one case and seed on the CPU are the same run, not two
    observations.
    """
    finals: dict[str, dict[int, float]] = {case.name: {} for case in cases}
    for path in paths:
        document = json.loads(Path(path).read_text())
        stored = {c["name"]: c for c in document["cases"]}
        for case in cases:
            if case.name not in stored or stored_identity(stored[case.name]) != case.identity():
                continue
            for r in document["runs"]:
                if r["case"] == case.name and r["device"] == "cpu" and r["status"] == "ok":
                    finals[case.name][r["seed"]] = r["final_return"]
    return finals


def write_results(
    path: Path,
    cases: Sequence[Case],
    devices: Sequence[str],
    runs: Sequence[dict],
    skipped: dict[str, str],
    meta: dict[str, Any],
    final: bool,
    judged: Sequence[dict] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write the results JSON atomically; with ``final`` also the verdicts and aggregates.

    Returns ``(verdicts, aggregates)``, both empty unless ``final``.

    ``judged``: the runs the verdicts are taken over (default all ``runs``; a resumed sweep
    keeps runs outside its selection in the file without judging them).
    """
    judged = runs if judged is None else judged
    from drlspec.agents.files import atomic_write_text

    document: dict[str, Any] = {
        **meta,
        "cases": [dataclasses.asdict(c) | {"name": c.name} for c in cases],
        "devices": list(devices),
        "skipped_devices": skipped,
        "runs": list(runs),
    }
    verdicts: list[dict[str, Any]] = []
    aggregates: list[dict[str, Any]] = []
    if final:
        verdicts = judge_all(cases, devices, judged, skipped)
        aggregates = [
            a for d in devices if d not in skipped if (a := aggregate(cases, d, judged)) is not None
        ]
        document.update(
            verdicts=verdicts, aggregates=aggregates, passed=all(v["passed"] for v in verdicts)
        )
    atomic_write_text(path, json.dumps(document, indent=1) + "\n")
    return verdicts, aggregates


# --------------------------------------------------------------------------
# The local runner
# --------------------------------------------------------------------------


def cuda_skip_reason() -> str | None:
    import torch

    if not torch.cuda.is_available():
        return "no CUDA device (torch.cuda.is_available() is False)"
    return None


def _worker_initialize() -> None:
    import torch

    torch.set_num_threads(1)


def machine() -> dict[str, Any]:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


@dataclass
class Sweep:
    """What :func:`run_sweep` returns."""

    verdicts: list[dict[str, Any]]
    aggregates: list[dict[str, Any]]
    results: Path
    plot: Path
    wall_seconds: float

    @property
    def passed(self) -> bool:
        return all(v["passed"] for v in self.verdicts)


def run_sweep(
    cases: Sequence[Case],
    *,
    devices: Sequence[str],
    jobs: int,
    output: Path | str,
    seeds: int | None = None,
    smoke: bool = False,
    report: Callable[[str], None] | None = None,
    backend: str = "local",
    address: str | None = None,
    retries: int = 2,
    resume: Path | str | None = None,
    run: Callable[..., dict[str, Any]] | None = None,
    implementations: dict[str, str] | None = None,
) -> Sweep:
    """Run every (case, seed, device), judge, and write the report.

    ``seeds`` overrides every case's seed count; ``smoke`` uses each case's ``smoke_seeds``.
    Seeds are ``1..K``. ``output`` receives ``results.json``, ``learning_curves.png`` and the
    run folders (``runs/``). ``backend``: "local" (a process pool of ``jobs`` workers) or
    "ray" (:mod:`drlspec.harness.ray_backend`; a task whose worker dies is retried
    ``retries`` times). ``resume``: a ``results.json`` of an earlier sweep; its finished runs
    are kept and not rerun, and the sweep continues in its folder. ``implementations``: an
    algorithm -> train-function target map (``drlspec regress --impl``); its runs train with
    those (:class:`ExternalRun`) instead of the reference agents. ``run`` is the function that
    performs one run (default :func:`run_one`, or :class:`ExternalRun` with
    ``implementations``; tests substitute a faulty one).
    """
    implementations = dict(implementations or {})
    if run is None:
        run = ExternalRun(implementations) if implementations else run_one
    if backend not in ("local", "ray"):
        raise UsageError(f"backend must be 'local' or 'ray', got {backend!r}")
    say = report or (lambda line: print(line, file=sys.stderr, flush=True))
    kept: list[dict[str, Any]] = []
    if resume is not None:
        resume = Path(resume)
        output = resume.parent
        kept = _finished_runs(resume, cases, implementations)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    if "cuda" in devices and (reason := cuda_skip_reason()) is not None:
        skipped["cuda"] = reason
    wanted = [
        (case, seed, device)
        for case in cases
        for seed in range(1, (seeds or (case.smoke_seeds if smoke else case.seeds)) + 1)
        for device in devices
        if device not in skipped
    ]
    # Kept runs outside this selection stay in the file; they are not judged.
    runs = list(kept)
    done = {(r["case"], r["seed"], r["device"]) for r in runs}
    tasks = [task for task in wanted if (task[0].name, task[1], task[2]) not in done]
    # Longest first: the makespan is then close to total work / workers.
    tasks.sort(key=lambda task: -task[0].seconds)
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "backend": backend,
        "jobs": jobs,
        "tier": "smoke" if smoke else "full",
        "evaluation_seed": EVALUATION_SEED,
        "implementations": implementations,
    }
    results, plot = output / "results.json", output / "learning_curves.png"
    start = time.perf_counter()
    for device, reason in skipped.items():
        say(f"{device}: skipped, {reason}")
    total = len(wanted)
    count = total - len(tasks)
    if resume is not None:
        say(f"resuming {resume}: {count} of {total} runs already finished")
    say(f"{len(tasks)} runs of {len(cases)} cases on {backend} ({jobs} workers); {results}")

    def finished(record: dict[str, Any]) -> None:
        nonlocal count
        runs.append(record)
        count += 1
        outcome = f"{record['final_return']:.1f}" if record["status"] == "ok" else record["error"]
        say(
            f"[{count}/{total}] {record['case']} {record['device']} seed "
            f"{record['seed']}: {outcome} ({record['seconds']:.0f} s)"
        )
        # Every finished run is on disk at once: an interrupted sweep resumes from here.
        write_results(results, cases, devices, runs, skipped, meta, final=False)

    write_results(results, cases, devices, runs, skipped, meta, final=False)
    if backend == "ray":
        from drlspec.harness import ray_backend

        ray_backend.run_tasks(
            tasks,
            output / "runs",
            address=address,
            jobs=jobs,
            retries=retries,
            run=run,
            on_result=finished,
        )
    elif jobs <= 1:
        for task in tasks:
            finished(run(*task, output / "runs"))
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_worker_initialize
        ) as pool:
            futures = [pool.submit(run, *task, output / "runs") for task in tasks]
            for future in concurrent.futures.as_completed(futures):
                finished(future.result())
    wall = time.perf_counter() - start
    meta["wall_seconds"] = round(wall, 1)
    wanted_keys = {(case.name, seed, device) for case, seed, device in wanted}
    judged = [r for r in runs if (r["case"], r["seed"], r["device"]) in wanted_keys]
    verdicts, aggregates = write_results(results, cases, devices, runs, skipped, meta, True, judged)
    plot_curves(cases, judged, plot, verdicts)
    return Sweep(verdicts, aggregates, results, plot, wall)


def stored_identity(entry: dict[str, Any]) -> dict[str, Any]:
    """:meth:`Case.identity` of a case as stored in a results file."""
    keys = ("algorithm", "env_id", "steps", "eval_episodes", "overrides")
    return {key: entry.get(key) for key in keys}


def _finished_runs(
    path: Path, cases: Sequence[Case], implementations: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The finished ("ok") runs of an earlier results file whose case is unchanged.

    A file that cannot be read, is not JSON (empty, truncated) or is not shaped as
    :func:`write_results` writes it is a :class:`UsageError` naming the file and what is wrong,
    before anything is run or written.
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--resume {path}: cannot read it ({error})") from None
    if not text.strip():
        raise UsageError(
            f"--resume {path}: the file is empty, not a results file of drlspec regress"
        )
    try:
        document = json.loads(text)
    except ValueError as error:  # a truncated file ends mid-value
        raise UsageError(
            f"--resume {path}: not valid JSON ({error}); truncated? not a results file of "
            "drlspec regress"
        ) from None
    problem = _results_problem(document)
    if problem is not None:
        raise UsageError(f"--resume {path}: not a results file of drlspec regress: {problem}")
    stored_implementations = document.get("implementations") or {}
    if stored_implementations != (implementations or {}):

        def name(targets: dict[str, str]) -> str:
            return ", ".join(f"{a}={t}" for a, t in sorted(targets.items())) or "the reference"

        raise UsageError(
            f"--resume {path}: that sweep ran {name(stored_implementations)}, this one runs "
            f"{name(implementations or {})}; start a new sweep"
        )
    stored = {c["name"]: c for c in document["cases"]}
    for case in cases:
        if case.name in stored:
            if stored_identity(stored[case.name]) != case.identity():
                raise UsageError(
                    f"--resume {path}: case {case.name} has changed in the table since; "
                    "start a new sweep"
                )
    return [r for r in document["runs"] if r["status"] == "ok"]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _results_problem(document: Any) -> str | None:
    """What keeps ``document`` from being a results file a sweep can continue, or ``None``.

    Only what a resumed sweep reads is checked: the cases by name, and of every run its key
    ``(case, seed, device)`` and status; of a finished run also what the verdicts, the
    aggregates and the learning curves are computed from.
    """
    if not isinstance(document, dict):
        return f"it holds a JSON {type(document).__name__}, not an object"
    for key in ("cases", "runs"):
        if key not in document:
            return f"no {key!r} key"
        if not isinstance(document[key], list):
            return f"{key!r} is a {type(document[key]).__name__}, not a list"
    for i, case in enumerate(document["cases"]):
        if not isinstance(case, dict) or not isinstance(case.get("name"), str):
            return f"cases[{i}] is not an object with a string 'name'"
    seen: set[tuple[str, int, str]] = set()
    for i, run in enumerate(document["runs"]):
        if not isinstance(run, dict):
            return f"runs[{i}] is a {type(run).__name__}, not an object"
        kinds = {"case": str, "seed": int, "device": str, "status": str}
        for key, kind in kinds.items():
            value = run.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                return f"runs[{i}] has no {kind.__name__} {key!r} (got {value!r})"
        if run["status"] != "ok":
            continue  # a failed run is run again; nothing else of it is read
        for key in ("final_return", "seconds"):
            if not _is_number(run.get(key)):
                return f"runs[{i}] (finished) has no number {key!r} (got {run.get(key)!r})"
        returns = run.get("eval_returns", [])
        if not isinstance(returns, list) or not all(_is_number(x) for x in returns):
            return f"runs[{i}] 'eval_returns' is not a list of numbers"
        curve = run.get("curve")
        if curve is not None and not (
            isinstance(curve, list)
            and len(curve) == CURVE_POINTS
            and all(x is None or _is_number(x) for x in curve)
        ):
            return f"runs[{i}] 'curve' is not a list of {CURVE_POINTS} numbers or nulls"
        key = (run["case"], run["seed"], run["device"])
        if key in seen:
            return f"runs[{i}] repeats the finished run {key[0]} seed {key[1]} on {key[2]}"
        seen.add(key)
    return None
