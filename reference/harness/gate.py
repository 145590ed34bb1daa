"""The statistics behind the convergence gate: IQM, bootstrap interval, verdict, aggregate.

Everything that turns a case's final returns into PASS or FAIL is here, on one page;
:mod:`drlspec.harness.regress` only gathers the runs' records and calls it.

* The score of a (case, device) is the interquartile mean (IQM) of its seeds' final returns:
  ``scipy.stats.trim_mean(x, 0.25)``, the mean of the middle 50% (Agarwal et al. 2021, "Deep
  RL at the Edge of the Statistical Precipice"): robust to one diverged seed, less noisy than
  the median.
* Its uncertainty is a 95% percentile bootstrap interval (``scipy.stats.bootstrap``, 10,000
  resamples, a fixed generator, so the same returns always give the same interval).
* The verdict: PASS when the IQM reaches the threshold and no seed crashed. The interval is
  reported, not judged.
* The aggregate over cases: the IQM of every seed's normalized score, with a *stratified*
  bootstrap (seeds resampled within their case, so every case keeps its weight).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "bootstrap_interval",
    "false_failure_rate",
    "interquartile_mean",
    "passes",
    "stratified_iqm",
]

RESAMPLES = 10_000
CONFIDENCE = 0.95


def interquartile_mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """The mean of the middle 50% (``trim_mean`` cutting 25% from each end)."""
    from scipy.stats import trim_mean

    return trim_mean(values, 0.25, axis=axis)


def bootstrap_interval(samples: Sequence[np.ndarray], statistic: Callable) -> tuple[float, float]:
    """95% percentile bootstrap interval; resamples each sample separately (stratified).

    A sample of one observation is the same in every resample, so it is held fixed (scipy
    refuses to resample it). Fewer than two observations in all: no interval (NaN).
    """
    from scipy.stats import bootstrap

    pooled = np.concatenate(samples)
    if len(pooled) < 2:
        return math.nan, math.nan
    if np.ptp(pooled) == 0:
        value = float(statistic(*samples, axis=-1))
        return value, value
    varying = [s for s in samples if len(s) > 1]
    fixed = [s for s in samples if len(s) == 1]
    if not varying:
        value = float(statistic(*samples, axis=-1))
        return value, value

    def with_fixed(*resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        batch = resampled[0].shape[:-1]
        held = [np.broadcast_to(s, (*batch, 1)) for s in fixed]
        return statistic(*resampled, *held, axis=axis)

    result = bootstrap(
        tuple(varying),
        with_fixed,
        n_resamples=RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(0),
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def passes(iqm: float, threshold: float, crashed: bool) -> bool:
    """The verdict of a (case, device): the IQM reaches the threshold and no seed crashed."""
    return iqm >= threshold and not crashed


def stratified_iqm(samples: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """``(IQM, low, high)`` of the pooled samples, bootstrapped within each sample."""

    def pooled_iqm(*groups: np.ndarray, axis: int = -1) -> np.ndarray:
        return interquartile_mean(np.concatenate(groups, axis=axis), axis=axis)

    low, high = bootstrap_interval(samples, pooled_iqm)
    return float(pooled_iqm(*samples)), low, high


def false_failure_rate(
    finals: Sequence[float], threshold: float, seeds: int, resamples: int = 100_000
) -> float:
    """P(the IQM of ``seeds`` runs misses ``threshold``), seeds drawn from ``finals``.

    ``finals`` are final returns of runs of a correct implementation (calibration sweeps);
    each resample draws ``seeds`` of them with replacement, as a fresh sweep draws seeds.
    The estimate is only as good as ``finals`` is large: a failure mode never observed
    counts as impossible (regression/README.md gives the binomial bound alongside).
    """
    rng = np.random.default_rng(0)
    draws = rng.choice(np.asarray(finals, dtype=float), size=(resamples, seeds), replace=True)
    return float(np.mean(interquartile_mean(draws, axis=1) < threshold))
