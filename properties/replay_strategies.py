"""Inputs, fast float64 oracles and derived tolerances for the prioritized-replay contracts.

Used by properties/test_sum_tree.py, test_per_probabilities.py and
test_importance_weights.py. The generators here are vectorised numpy (seeded
``numpy.random.Generator``): a tree of 131 073 leaves or a batch of thousands
of priorities is drawn in microseconds, and hypothesis only draws the
structure (size, pattern, seed), which it shrinks well.

Magnitudes. Priorities and probabilities span ``1e-12 .. 1e12`` (24
decades), all of it inside float32's normal range (``1.2e-38 .. 3.4e38``),
so an implementation computing in float32 loses nothing to underflow or
overflow of an *input*; what it may lose is resolution, and the tolerances
of each contract say how much.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from drlspec.properties.strategies import log_uniform

__all__ = [
    "FLOAT32_TINY",
    "UNIT_ROUNDOFF",
    "critical_indices",
    "leaf_priorities",
    "log_uniform_array",
    "non_power_of_two_sizes",
    "tree_depth",
]

UNIT_ROUNDOFF = 2.0**-24  # float32 unit roundoff u
FLOAT32_TINY = 2.0**-126  # float32's smallest normal number

PATTERNS = ("ordinary", "spikes", "magnitudes", "zero runs")


def tree_depth(capacity: int) -> int:
    """``ceil(log2 capacity)``: the levels of a balanced binary tree over ``capacity`` leaves."""
    return (capacity - 1).bit_length()


def non_power_of_two_sizes(high: int) -> st.SearchStrategy[int]:
    """Sizes 1..high, most of them *not* powers of two: small, log-uniform, and ``2^k - 1 .. + 1``.

    ``2^k + 1`` is where a padded layout needs one more level and an odd
    level has a lone last node; ``2^k - 1`` where every level but the root is
    odd.
    """
    near_powers = st.integers(1, max(1, high.bit_length() - 1)).flatmap(
        lambda k: st.sampled_from([2**k - 1, 2**k, 2**k + 1])
    )
    return st.one_of(
        st.integers(1, 64),
        log_uniform(1.0, float(high)).map(lambda x: max(1, min(high, round(x)))),
        near_powers.map(lambda n: max(1, min(high, n))),
    )


def log_uniform_array(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    """``size`` floats whose base-10 logarithm is uniform on ``[log10 low, log10 high]``."""
    exponents = rng.uniform(np.log10(low), np.log10(high), size)
    return np.clip(10.0**exponents, low, high)


def critical_indices(capacity: int) -> np.ndarray:
    """Leaves where layouts go wrong: both ends and each side of every power of two."""
    powers = [2**k for k in range(capacity.bit_length() + 1)]
    candidates = [0, 1, capacity - 2, capacity - 1]
    for power in powers:
        candidates += [power - 1, power, power + 1]
    chosen = np.array(sorted(set(candidates)), dtype=np.int64)
    return chosen[(chosen >= 0) & (chosen < capacity)]


def leaf_priorities(rng: np.random.Generator, capacity: int, pattern: str) -> np.ndarray:
    """``[capacity]`` float64 priorities >= 0 in one of four patterns.

    * ``ordinary``: ``U(0.5, 2)``, a third zeros (every leaf has width ~S/n).
    * ``spikes``: heavy leaves ``U(1, 2)`` at every critical index and 64
      random ones; all others tiny (``1e-12 .. 1e-6``) or zero. A heavy leaf
      is far wider than any tolerance, so a descent that misplaces it by one
      leaf is seen; zeroing the heavy ones later leaves only tiny leaves,
      where the residue of a delta-updated tree dwarfs the true sum.
    * ``magnitudes``: log-uniform on ``1e-12 .. 1e12``, a quarter zeros.
    * ``zero runs``: blocks of zeros of random length (at the start and at
      the end too) between blocks of ``U(0.5, 2)``.
    """
    if pattern == "ordinary":
        values = rng.uniform(0.5, 2.0, capacity)
        values[rng.random(capacity) < 1 / 3] = 0.0
    elif pattern == "spikes":
        values = log_uniform_array(rng, 1e-12, 1e-6, capacity)
        values[rng.random(capacity) < 0.5] = 0.0
        heavy = np.concatenate([critical_indices(capacity), rng.integers(0, capacity, 64)])
        values[heavy] = rng.uniform(1.0, 2.0, heavy.size)
    elif pattern == "magnitudes":
        values = log_uniform_array(rng, 1e-12, 1e12, capacity)
        values[rng.random(capacity) < 0.25] = 0.0
    elif pattern == "zero runs":
        # Run lengths log-uniform in 1 .. capacity; runs alternate zero / positive.
        lengths = np.maximum(1, log_uniform_array(rng, 1.0, capacity, 64).astype(np.int64))
        blocks = np.repeat(np.arange(lengths.size) % 2, lengths)
        offset = int(rng.integers(0, 2))  # start with a zero run or a positive one
        positive = np.resize(blocks ^ offset, capacity).astype(bool)
        values = np.where(positive, rng.uniform(0.5, 2.0, capacity), 0.0)
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    return values
