"""Inputs, fast float64 oracles and derived tolerances for the returns-and-advantages contracts.

Used by properties/test_discounted_returns.py, test_td_target.py and test_gae.py.

Tolerance. Every estimator of the group is a discounted sum along a *trace*
(the steps ``k = t .. e`` from ``t`` to the end ``e`` of ``t``'s episode,
or the last row):

    x_t = sum_{k=t}^{e} c^(k-t) m_k,     bound  8 u (L_t + 2) S_t

with ``u = 2**-24`` (float32 unit roundoff), ``L_t = e - t + 1`` the number of
terms of the trace, and ``S_t = sum_{k=t}^{e} c^(k-t) M_k`` the same sum over
the magnitudes ``M_k`` of everything that enters term ``k``
(``|r_k|`` for a return, ``|r_k| + |v_k| + gamma |v'_k|`` for an advantage).
Why that bounds a correct float32 implementation, whatever order it sums in:

* rounding the float64 inputs to float32 errs by ``u M_k`` per term, and
  forming each term (``r + gamma v' - v``: three roundings) by ``3 u M_k``;
* the decay ``c`` rounded to float32 (``gamma``, ``lam`` and their product:
  three roundings) and raised to the power ``k - t`` by ``k - t`` further
  multiplications errs relatively by at most ``(k - t + 3) u (1 + o(1))``,
  below ``(L_t + 3) u`` for every term;
* a sum of ``L_t`` terms in any order (sequential recursion, blocked with a
  carry, tree/parallel scan) errs by at most ``(L_t - 1) u`` times the sum
  of the absolute values of its terms (Higham, *Accuracy and Stability of
  Numerical Algorithms*, 2nd ed., eq. 4.4), i.e. by ``(L_t - 1) u S_t``.

Together: at most ``(2 L_t + 6) u S_t (1 + o(1)) <= 8 u (L_t + 2) S_t``,
with room for a second-order term. Each operation whose result underflows
float32's normal range may err by a further ``2**-126`` in absolute terms
(gradual underflow, or flush to zero), so the bound used is
``8 (L_t + 2) (u S_t + 2**-126)``; the second term is below ``1e-33``.
The float64 oracles below err by about ``2 L_t 2**-53 S_t``, nine orders of
magnitude less. A wrong formula is off by a whole term ``c^(k-t) m_k`` (or a
whole carried ``x``), which the bound
leaves visible as long as that term is not below ``8 u (L_t + 2)`` (at most
``~2e-3`` at ``L_t = 4096``) of the trace's magnitude.

Inputs stay within float32's normal range (``|x|`` from ``1e-6`` to ``1e6``)
so that an implementation computing in float32 loses nothing to underflow
or overflow; exponents beyond that belong to float64-only code, which the
contracts do not ask for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st

from drlspec.properties.strategies import FLAG_DTYPES, float_dtypes, log_uniform, unit_interval

__all__ = [
    "UNIT_ROUNDOFF",
    "LargeBatch",
    "LongRollout",
    "backward_scan",
    "discounts_for_long_rollouts",
    "large_batches",
    "long_rollouts",
    "near_one_discounts",
    "one_step_tolerance",
    "trace_tolerance",
]

UNIT_ROUNDOFF = 2.0**-24
"""float32's unit roundoff ``u``: the contracts judge agreement at float32 accuracy."""

FLOAT32_TINY = 2.0**-126
"""float32's smallest normal number: the absolute error of one operation whose result
underflows (gradually, or flushed to zero as GPU kernels may do)."""


def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def backward_scan(offsets, factors) -> np.ndarray:
    """``x_t = offsets_t + factors_t * x_{t+1}``, ``x_T = 0``, in float64.

    One numpy operation per time step, vectorised over the columns: fast
    enough for ``T`` in the thousands, and (unlike a reverse cumulative sum
    divided by powers of the discount) exact to float64 rounding.
    """
    offsets, factors = _numpy(offsets), _numpy(factors)
    out = np.empty(offsets.shape, dtype=np.float64)
    following = np.zeros(offsets.shape[1:], dtype=np.float64)
    for t in range(offsets.shape[0] - 1, -1, -1):
        following = offsets[t] + factors[t] * following
        out[t] = following
    return out


def trace_tolerance(magnitudes, factors, continues) -> torch.Tensor:
    """``8 (L_t + 2) (u S_t + tiny)`` elementwise (see the module docstring).

    ``tiny = 2**-126`` allows each operation an absolute error at float32's
    underflow threshold: ``gamma^(k-t) r_k`` with a small ``gamma`` or a
    product with a tiny factor underflows (or is flushed to zero) in float32.

    ``magnitudes``: ``M_k``; ``factors``: the decay of step ``k`` with the
    episode cut folded in (``c * (1 - end_k)``); ``continues``: ``1 - end_k``
    (0/1), which counts the trace's terms ``L_t``.
    """
    magnitudes = np.abs(_numpy(magnitudes))
    sums = backward_scan(magnitudes, np.abs(_numpy(factors)))
    lengths = backward_scan(np.ones_like(magnitudes), _numpy(continues))
    return torch.from_numpy(8.0 * (lengths + 2.0) * (UNIT_ROUNDOFF * sums + FLOAT32_TINY))


def one_step_tolerance(magnitudes) -> torch.Tensor:
    """The trace bound for a single term (``L = 1``): ``24 (u M + tiny)`` elementwise."""
    magnitudes = np.abs(_numpy(magnitudes))
    return torch.from_numpy(8.0 * 3.0 * (UNIT_ROUNDOFF * magnitudes + FLOAT32_TINY))


def near_one_discounts() -> st.SearchStrategy[float]:
    """Exactly 1 or a hair below it (``1 - 10^-k``): where a lost carry weighs the most."""
    return st.one_of(
        st.just(1.0), st.integers(min_value=1, max_value=16).map(lambda k: 1.0 - 10.0**-k)
    )


# Episode-end patterns of one column of a long rollout. "never" and the edges
# make a missing carry and a mishandled first or last step visible; "rare"
# gives traces of hundreds or thousands of steps; "often" and "always" give
# many short ones.
LONG_PATTERNS = ("never", "first", "last", "first and last", "rare", "often", "always")


@dataclass(frozen=True)
class LongRollout:
    """A recipe for one long ``[T, N]`` rollout: small to print, quick to build.

    Column ``n`` gets the end pattern ``LONG_PATTERNS[(n + shift) % 7]``, so
    every pattern is present once ``N >= 7``; each column has its own
    magnitude (log-uniform on ``[10^-spread, 1] * magnitude``) when
    ``spread > 0``. Entries come from a numpy generator seeded by ``seed``.
    """

    steps: int
    envs: int
    dtype: str  # "float32" or "float64"
    magnitude: float
    spread: float
    shift: int
    seed: int

    def build(self, reals: tuple[str, ...], flag_names: tuple[str, ...]) -> dict:
        """``reals`` as ``[T, N]`` tensors of ``dtype``; ``flag_names`` as bool/float flags.

        With two flags (terminated, truncated) each episode end is assigned
        to one of them, or to both, at random, so a "never" column has
        neither and every end pattern is seen under both kinds of end.
        """
        rng = np.random.default_rng(self.seed)
        steps, envs = self.steps, self.envs
        column_scale = self.magnitude * 10.0 ** (-self.spread * rng.random(envs))
        dtype = getattr(torch, self.dtype)
        tensors = {}
        for name in reals:
            values = (2.0 * rng.random((steps, envs)) - 1.0) * column_scale
            tensors[name] = torch.from_numpy(values).to(dtype)
        ends = np.zeros((steps, envs), dtype=bool)
        for n in range(envs):
            pattern = LONG_PATTERNS[(n + self.shift) % len(LONG_PATTERNS)]
            if pattern in ("first", "first and last"):
                ends[0, n] = True
            if pattern in ("last", "first and last"):
                ends[-1, n] = True
            if pattern == "rare":  # a few ends per column, some traces of thousands of steps
                ends[:, n] = rng.random(steps) < 10.0 ** rng.uniform(-3.5, -2.0)
            if pattern == "often":
                ends[:, n] = rng.random(steps) < 0.5
            if pattern == "always":
                ends[:, n] = True
        kinds = rng.integers(0, 3, size=(steps, envs)) if len(flag_names) == 2 else 0
        flag_dtypes = [FLAG_DTYPES[(self.seed + i) % len(FLAG_DTYPES)] for i in range(2)]
        for i, name in enumerate(flag_names):
            # kind 0: first flag only, 1: second flag only, 2: both.
            mine = ends & ((kinds == i) | (kinds == 2)) if len(flag_names) == 2 else ends
            tensors[name] = torch.from_numpy(mine).to(flag_dtypes[i])
        return tensors


@st.composite
def long_rollouts(
    draw: st.DrawFn, min_steps: int = 1000, max_steps: int = 4096, max_envs: int = 64
) -> LongRollout:
    """Recipes of realistic-to-large rollouts: ``T`` in the thousands, ``N`` up to 64."""
    spread = draw(st.sampled_from([0.0, 0.0, 3.0, 12.0]))
    return LongRollout(
        steps=draw(st.integers(min_steps, max_steps)),
        envs=draw(st.integers(1, max_envs)),
        dtype=str(draw(float_dtypes)).removeprefix("torch."),
        magnitude=draw(st.one_of(st.just(100.0), log_uniform(1e-6 * 10.0**spread, 1e6))),
        spread=spread,
        shift=draw(st.integers(0, len(LONG_PATTERNS) - 1)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def discounts_for_long_rollouts() -> st.SearchStrategy[float]:
    """Mostly 1 or a hair below (a lost carry is then a whole return), sometimes anything."""
    return st.one_of(near_one_discounts(), near_one_discounts(), unit_interval())


@dataclass(frozen=True)
class LargeBatch:
    """A recipe for one large batch of ``[B]`` transitions (``td_target``).

    Each row has its own magnitude (log-uniform on ``[10^-spread, 1] *
    magnitude``); ``terminated`` is set with probability ``end_rate``, and
    always on the first row and never on the last one when ``edges``, or the
    other way round when not, so that both ends of the batch see both cases.
    """

    size: int
    dtype: str
    magnitude: float
    spread: float
    end_rate: float
    edges: bool
    seed: int

    def build(self) -> dict:
        rng = np.random.default_rng(self.seed)
        row_scale = self.magnitude * 10.0 ** (-self.spread * rng.random(self.size))
        dtype = getattr(torch, self.dtype)
        tensors = {}
        for name in ("rewards", "next_values"):
            values = (2.0 * rng.random(self.size) - 1.0) * row_scale
            tensors[name] = torch.from_numpy(values).to(dtype)
        terminated = rng.random(self.size) < self.end_rate
        terminated[0], terminated[-1] = self.edges, not self.edges
        flag_dtype = FLAG_DTYPES[self.seed % len(FLAG_DTYPES)]
        tensors["terminated"] = torch.from_numpy(terminated).to(flag_dtype)
        return tensors


@st.composite
def large_batches(draw: st.DrawFn, min_size: int = 1000, max_size: int = 8192) -> LargeBatch:
    """Recipes of large batches: ``B`` in the thousands, magnitudes from 1e-6 to 1e6."""
    spread = draw(st.sampled_from([0.0, 3.0, 12.0]))
    return LargeBatch(
        size=draw(st.integers(min_size, max_size)),
        dtype=str(draw(float_dtypes)).removeprefix("torch."),
        magnitude=draw(st.one_of(st.just(100.0), log_uniform(1e-6 * 10.0**spread, 1e6))),
        spread=spread,
        end_rate=draw(st.sampled_from([0.5, 0.01, 0.99])),
        edges=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
