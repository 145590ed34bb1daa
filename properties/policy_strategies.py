"""Strategies shared by the policy-loss and distribution properties (issue 13).

The policy losses take flat batches ``[B]`` of log-probabilities, advantages and weights; the
distributions take ``[B, A]`` / ``[B, K]`` rows. Hypothesis draws the *structure* (batch size,
dtype, which magnitude regime each tensor lives in, a seed) and a ``torch.Generator`` fills in
the entries, so every row gets its own value and a bug confined to one row (the last, the
33rd) has as many chances to show as a bug everywhere; a batch of thousands costs no more to
draw than a batch of one, and the shrinker still goes straight to a small ``B``.

Magnitude regimes of log-probabilities (``log_prob_regimes``):

* ``moderate``: ``[-10, 2]`` (log-densities of continuous actions can be positive);
* ``deep``: ``-10^U`` with ``U`` uniform over ``[-3, log10 |floor|]``, every decade alike;
* ``floor``: where ``exp`` no longer holds the probability: ``[-1000, -709]`` in float64
  (``exp`` is subnormal below -708.4 and 0 below -745.1), ``[-120, -88]`` in float32
  (subnormal below -87.3, 0 below -103.9). A ratio formed as ``exp(new) / exp(old)`` is
  ``0/0`` or a quotient of subnormals there; ``exp(new - old)`` is exact to a few ``u``;
* ``mixed``: each entry from one of the above.
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from drlspec.properties.strategies import torch_generators

__all__ = [
    "LOG_PROB_FLOOR",
    "U32",
    "large_batches",
    "log_prob_pairs",
    "policy_batches",
    "signed_values",
]

U32 = 2.0**-24
"""float32's unit roundoff: an implementation computing in float32 errs by a few of these."""

LOG_PROB_FLOOR = {torch.float64: (-1000.0, -709.0), torch.float32: (-120.0, -88.0)}

# Batches from 1 (a mean over one sample) past 32 (a blocked or vectorised kernel's first full
# block) to a few hundred; the large-batch properties go to thousands with a handful of examples.
policy_batches = st.one_of(st.integers(1, 8), st.integers(9, 64), st.integers(65, 300))
large_batches = st.integers(1024, 4096)

log_prob_regimes = st.sampled_from(["moderate", "deep", "floor", "mixed"])


def _uniform(generator: torch.Generator, size: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(size, generator=generator, dtype=torch.float64)


def _log_probabilities(
    generator: torch.Generator, size: int, regime: str, dtype: torch.dtype
) -> torch.Tensor:
    floor_low, floor_high = LOG_PROB_FLOOR[dtype]
    moderate = _uniform(generator, size, -10.0, 2.0)
    deep = -(10.0 ** _uniform(generator, size, -3.0, math.log10(-floor_low)))
    floor = _uniform(generator, size, floor_low, floor_high)
    if regime == "moderate":
        return moderate
    if regime == "deep":
        return deep
    if regime == "floor":
        return floor
    choice = torch.randint(0, 3, (size,), generator=generator)
    return torch.where(choice == 0, moderate, torch.where(choice == 1, deep, floor))


@st.composite
def log_prob_pairs(
    draw: st.DrawFn,
    batch: int,
    dtype: torch.dtype,
    regime: str | None = None,
    log_ratio_bound: float = 3.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log_prob_new, log_prob_old)`` in ``dtype``, old from a magnitude regime (module doc),
    ``new = old + log-ratio`` with the log-ratio uniform in ``[-bound, bound]`` per entry."""
    regime = draw(log_prob_regimes) if regime is None else regime
    generator = draw(torch_generators)
    old = _log_probabilities(generator, batch, regime, dtype)
    log_ratio = _uniform(generator, batch, -log_ratio_bound, log_ratio_bound)
    return (old + log_ratio).to(dtype), old.to(dtype)


@st.composite
def signed_values(
    draw: st.DrawFn,
    batch: int,
    dtype: torch.dtype,
    low: float = 1e-6,
    high: float = 1e3,
) -> torch.Tensor:
    """Advantages, returns, KL estimates: both signs, magnitudes log-uniform in ``[low, high]``
    per entry (or all of one decade, or integers), and some exact zeros."""
    generator = draw(torch_generators)
    shape = draw(st.sampled_from(["log_uniform", "one_decade", "integers"]))
    if shape == "log_uniform":
        magnitude = 10.0 ** _uniform(generator, batch, math.log10(low), math.log10(high))
    elif shape == "one_decade":
        decade = draw(st.integers(math.ceil(math.log10(low)), math.floor(math.log10(high)) - 1))
        magnitude = 10.0 ** _uniform(generator, batch, decade, decade + 1)
    else:
        magnitude = torch.randint(1, 11, (batch,), generator=generator).to(torch.float64)
    sign = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0)
    zero_rate = draw(st.sampled_from([0.0, 0.0, 0.125, 0.5]))
    zeros = torch.rand(batch, generator=generator) < zero_rate
    values = torch.where(zeros, 0.0, sign * magnitude)
    return values.to(torch.float64).to(dtype)
