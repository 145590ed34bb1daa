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

Comparing an implementation X with the reference Y on a case (``drlspec regress --impl``):

* the difference of IQMs, ``IQM(X) - IQM(Y)``, and the probability of improvement
  ``P(X > Y) + P(X = Y) / 2`` over all pairs of one run of each (the Mann-Whitney U statistic
  divided by ``n m``; Agarwal et al. 2021), each with a 95% percentile bootstrap interval that
  resamples X and Y independently (10,000 resamples, a fixed generator);
* the verdict (:func:`compare_verdict`): **worse** when both intervals lie on the side of "X is
  below Y" (the difference's entirely under 0 and P(X > Y)'s entirely under 1/2), **better**
  when both lie entirely on the other side, **indistinguishable** otherwise. A case *regresses*
  when its verdict is worse; :func:`false_alarm_rate` estimates how often a correct
  implementation would be called worse (X and Y both drawn from the reference's own runs).
* Across cases: the difference of the IQMs of the pooled normalized scores and the mean over
  cases of P(X > Y), with a stratified bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "Comparison",
    "bootstrap_interval",
    "compare",
    "compare_aggregate",
    "compare_verdict",
    "false_alarm_rate",
    "false_failure_rate",
    "interquartile_mean",
    "passes",
    "probability_of_improvement",
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


# --------------------------------------------------------------------------
# An implementation against the reference
# --------------------------------------------------------------------------


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``P(X > Y) + P(X = Y) / 2`` over all pairs, on the last axis (batched over the rest).

    ``x``: ``[..., n]`` and ``y``: ``[..., m]`` with the same leading shape.
    """
    x = np.asarray(x, dtype=float)[..., :, None]
    y = np.asarray(y, dtype=float)[..., None, :]
    return np.mean((x > y) + 0.5 * (x == y), axis=(-2, -1))


def _resampled(
    samples: Sequence[np.ndarray], statistic: Callable, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The statistic over ``resamples`` bootstrap draws, each sample resampled on its own."""
    draws = [s[rng.integers(0, len(s), size=(resamples, len(s)))] for s in samples]
    return statistic(*draws)


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Comparison:
    """X (an implementation) against Y (the reference) on one case or over cases."""

    iqm_difference: float
    difference_low: float
    difference_high: float
    probability_of_improvement: float
    probability_low: float
    probability_high: float
    verdict: str

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def compare_verdict(difference: tuple[float, float], probability: tuple[float, float]) -> str:
    """worse / better / indistinguishable from the two intervals (see the module docstring)."""
    if difference[1] < 0 and probability[1] < 0.5:
        return "worse"
    if difference[0] > 0 and probability[0] > 0.5:
        return "better"
    return "indistinguishable"


def _comparison(
    statistics: Callable[..., tuple[np.ndarray, np.ndarray]],
    samples: Sequence[np.ndarray],
    resamples: int,
    seed: int,
) -> Comparison:
    difference, probability = statistics(*[s[None] for s in samples])
    draws = _resampled(samples, statistics, resamples, np.random.default_rng(seed))
    difference_interval = _percentile_interval(draws[0])
    probability_interval = _percentile_interval(draws[1])
    return Comparison(
        float(difference[0]),
        *difference_interval,
        float(probability[0]),
        *probability_interval,
        verdict=compare_verdict(difference_interval, probability_interval),
    )


def _finite_sample(values: Sequence[float], name: str) -> np.ndarray:
    sample = np.asarray(values, dtype=float)
    if sample.ndim != 1 or sample.size == 0:
        raise ValueError(f"{name} must be a non-empty list of returns, got shape {sample.shape}")
    if not np.isfinite(sample).all():
        raise ValueError(f"{name} holds a NaN or infinite return")
    return sample


def compare(
    x: Sequence[float], y: Sequence[float], resamples: int = RESAMPLES, seed: int = 0
) -> Comparison:
    """One case: X's final returns (one per seed) against Y's."""
    x_sample, y_sample = _finite_sample(x, "x"), _finite_sample(y, "y")

    def statistics(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        difference = interquartile_mean(xs, axis=-1) - interquartile_mean(ys, axis=-1)
        return difference, probability_of_improvement(xs, ys)

    return _comparison(statistics, [x_sample, y_sample], resamples, seed)


def compare_aggregate(
    xs: Sequence[Sequence[float]],
    ys: Sequence[Sequence[float]],
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Over cases: ``xs[i]`` and ``ys[i]`` are case i's normalized scores of X and of Y.

    The difference of the IQMs of the pooled scores and the mean over cases of P(X > Y); the
    bootstrap resamples every case's X and Y on their own (stratified), so each case keeps its
    weight.
    """
    if len(xs) != len(ys) or not xs:
        raise ValueError(f"xs and ys must hold the same cases (got {len(xs)} and {len(ys)})")
    samples = [_finite_sample(x, f"xs[{i}]") for i, x in enumerate(xs)]
    samples += [_finite_sample(y, f"ys[{i}]") for i, y in enumerate(ys)]
    cases = len(xs)

    def statistics(*draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x_draws, y_draws = draws[:cases], draws[cases:]
        difference = interquartile_mean(np.concatenate(x_draws, axis=-1), axis=-1)
        difference = difference - interquartile_mean(np.concatenate(y_draws, axis=-1), axis=-1)
        probability = np.mean(
            [probability_of_improvement(x, y) for x, y in zip(x_draws, y_draws, strict=True)],
            axis=0,
        )
        return difference, probability

    return _comparison(statistics, samples, resamples, seed)


def false_alarm_rate(
    reference: Sequence[float],
    seeds: int,
    reference_seeds: int | None = None,
    draws: int = 1000,
    resamples: int = 2000,
) -> float:
    """P(a correct implementation's case is called worse than the reference).

    Both X (``seeds`` runs) and Y (``reference_seeds`` runs, default ``seeds``) are drawn with
    replacement from the reference's own final returns ``reference``: they come from the same
    distribution, so every "worse" verdict is a false alarm. ``draws`` such comparisons are
    judged by :func:`compare` (with ``resamples`` bootstrap draws each, fewer than a report's
    10,000 to keep it quick; the interval's ends move by well under the spread of a case).
    """
    pool = _finite_sample(reference, "reference")
    rng = np.random.default_rng(0)
    y_size = seeds if reference_seeds is None else reference_seeds
    alarms = 0
    for draw in range(draws):
        x = rng.choice(pool, size=seeds, replace=True)
        y = rng.choice(pool, size=y_size, replace=True)
        alarms += compare(x, y, resamples=resamples, seed=draw).verdict == "worse"
    return alarms / draws
