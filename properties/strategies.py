"""Hypothesis strategies shared by the property modules.

The input space is generated honestly rather than filtered: sizes start at 1,
discounts include exactly 0 and 1, episode flags come as bool or as 0/1
floats, and values come in float32 and float64. Tensors are drawn as numpy
arrays (which hypothesis shrinks well) and handed over as CPU torch tensors;
properties move them to the ``device`` under test.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "FLAG_DTYPES",
    "FLOAT_DTYPES",
    "batch_sizes",
    "discounts",
    "flags",
    "float_dtypes",
    "log_uniform",
    "real_tensors",
    "runtime_string",
    "torch_generators",
    "unit_interval",
]

FLOAT_DTYPES = (torch.float64, torch.float32)
FLAG_DTYPES = (torch.bool, torch.float32, torch.float64)

_NUMPY = {torch.float64: np.float64, torch.float32: np.float32}

batch_sizes = st.integers(min_value=1, max_value=32)
action_counts = st.integers(min_value=1, max_value=18)
float_dtypes = st.sampled_from(FLOAT_DTYPES)


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Positive floats whose base-10 logarithm is uniform on ``[log10 low, log10 high]``.

    Round numbers hide bugs that only show at 1e-9 or 1e+6; a log scale gives
    every decade the same share of examples.
    """
    if not 0.0 < low <= high:
        raise ValueError(f"log_uniform needs 0 < low <= high, got {low!r}, {high!r}")
    return st.floats(min_value=float(np.log10(low)), max_value=float(np.log10(high))).map(
        lambda exponent: float(min(max(10.0**exponent, low), high))
    )


def unit_interval() -> st.SearchStrategy[float]:
    """A number in ``[0, 1]`` from the whole range, not only the comfortable middle.

    Exactly 0 and 1 (where special branches hide), tiny positive values down
    to 1e-300 on a log scale, values a hair below 1 (``1 - 10^-k`` for k up
    to 16, the last of which rounds to 1 in float32), and uniform values.
    """
    return st.one_of(
        st.sampled_from([0.0, 1.0]),
        log_uniform(1e-300, 1e-3),
        st.integers(min_value=1, max_value=16).map(lambda k: 1.0 - 10.0**-k),
        st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    )


# Discount factors and trace decays (gamma, lam): the whole of [0, 1].
discounts = unit_interval()


def runtime_string(text: str) -> st.SearchStrategy[str]:
    """``text`` as a string object built at run time, never the interned literal.

    ``mode is "max"`` is true for the literal on CPython and false for an equal
    string read from a config file; the contracts compare strings by value,
    so the properties hand over strings that are equal but not identical.
    """
    return st.sampled_from(["join", "slice", "decode"]).map(
        lambda how: {
            "join": lambda: "".join(list(text)),
            "slice": lambda: (text + " ")[:-1],
            "decode": lambda: text.encode("utf-8").decode("utf-8"),
        }[how]()
    )


def real_tensors(
    shape: tuple[int, ...],
    dtype: torch.dtype = torch.float64,
    bound: float = 100.0,
) -> st.SearchStrategy[torch.Tensor]:
    """Finite values in ``[-bound, bound]``, no subnormals, exactly representable in ``dtype``."""
    elements = st.floats(
        min_value=-bound,
        max_value=bound,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
        width=32 if dtype == torch.float32 else 64,
    )
    return hnp.arrays(_NUMPY[dtype], shape, elements=elements).map(torch.from_numpy)


def flags(shape: tuple[int, ...], dtype: torch.dtype | None = None) -> st.SearchStrategy:
    """Episode flags: bool, or 0/1 floats (the contracts accept both)."""
    dtypes = st.just(dtype) if dtype is not None else st.sampled_from(FLAG_DTYPES)

    def build(flag_dtype: torch.dtype) -> st.SearchStrategy[torch.Tensor]:
        raw = hnp.arrays(np.bool_, shape, elements=st.booleans()).map(torch.from_numpy)
        return raw.map(lambda t: t.to(flag_dtype))

    return dtypes.flatmap(build)


torch_generators = st.integers(min_value=0, max_value=2**32 - 1).map(
    lambda seed: torch.Generator().manual_seed(seed)
)
"""A seeded ``torch.Generator``: hypothesis does not manage torch's global RNG."""


# Rollouts ``[T, N]`` (returns and advantages). T stays at most 32 here, so that
# the pure-Python oracles stay quick; properties/returns_strategies.py draws the
# long rollouts (T in the thousands, N up to 64) that a blocked kernel needs to
# show a lost carry. N goes from 1 (a kernel that only works for one
# environment) to 24, so that a bug confined to one column, or to N >= 5, is
# met within the default budget.
time_steps = st.integers(min_value=1, max_value=32)
env_counts = st.integers(min_value=1, max_value=24)

# Per-step probability of an episode end, drawn for each column and flag on its
# own: never, rarely (long traces), sometimes, often, always.
END_RATES = (0.0, 1.0 / 32.0, 0.125, 0.5, 1.0)

# Ends forced at the edges of a column on top of its rate: the first step (a
# one-step episode at the start) and the last row (an episode ending exactly at
# the batch boundary), where off-by-one loops go wrong.
_EDGE_ENDS = ("none", "first", "last", "first and last")

# Built once: constructing strategies inside ``rollouts`` on every draw cost
# more than drawing from them.
_SHARED_END_PATTERNS = st.one_of(
    st.tuples(st.sampled_from(END_RATES), st.sampled_from(_EDGE_ENDS)), st.none()
)
_REAL_MAGNITUDES = st.one_of(st.none(), log_uniform(1e-6, 1e6))  # None: ``bound``
_COLUMN_SPREADS = st.sampled_from([0.0, 3.0])
_FLAG_DTYPE_CHOICES = st.sampled_from(FLAG_DTYPES)


@st.composite
def rollouts(
    draw: st.DrawFn,
    reals: tuple[str, ...],
    flag_names: tuple[str, ...],
    steps: int | None = None,
    envs: int | None = None,
    dtype: torch.dtype | None = None,
    bound: float = 100.0,
) -> dict[str, torch.Tensor]:
    """``[T, N]`` tensors: ``reals`` in one float dtype, ``flag_names`` as episode-end flags.

    Hypothesis draws the structure (T, N, dtypes, each column's rate of
    episode ends and forced ends at its first or last step, for each flag
    separately, shared by all columns or chosen per column; integer or real
    values and their magnitude) and a seed; the entries come from a
    ``torch.Generator``. Drawing hundreds of entries one by one made the
    properties slow and a failure at T = 40 took minutes to shrink; this way
    the shrinker goes straight to a small T and N, and to integer values
    (readable reproducers) whenever those still fail.

    Magnitudes: integer values lie in ``[-bound, bound]``; real values have a
    magnitude that is ``bound`` or log-uniform on ``[1e-6, 1e6]``, and each
    column may be scaled down by its own factor of up to ``10^3``, so that a
    bug relative to an absolute scale, or one column's scale, shows.
    """
    steps = draw(time_steps) if steps is None else steps
    envs = draw(env_counts) if envs is None else envs
    dtype = draw(float_dtypes) if dtype is None else dtype
    integer_valued = not draw(st.booleans())
    if integer_valued:
        magnitude, spread = bound, 0.0
    else:
        magnitude = draw(_REAL_MAGNITUDES)
        magnitude = bound if magnitude is None else magnitude
        spread = draw(_COLUMN_SPREADS)
    # Per flag: one end pattern for all columns (shrinks to a readable example),
    # or a pattern of its own for each column, chosen by the generator (drawing
    # dozens of columns' patterns through hypothesis tripled the properties' time).
    shared = [draw(_SHARED_END_PATTERNS) for _ in flag_names]
    flag_dtypes = [draw(_FLAG_DTYPE_CHOICES) for _ in flag_names]
    generator = draw(torch_generators)
    patterns = []
    for pattern in shared:
        if pattern is None:
            rate_index = torch.randint(len(END_RATES), (envs,), generator=generator).tolist()
            edge_index = torch.randint(len(_EDGE_ENDS), (envs,), generator=generator).tolist()
            pattern_of = [
                (END_RATES[i], _EDGE_ENDS[j]) for i, j in zip(rate_index, edge_index, strict=True)
            ]
        else:
            pattern_of = [pattern] * envs
        patterns.append(pattern_of)
    column_scale = magnitude * 10.0 ** (
        -spread * torch.rand(envs, generator=generator, dtype=torch.float64)
    )
    tensors = {}
    for name in reals:
        values = torch.rand(steps, envs, generator=generator, dtype=torch.float64)
        values = (2.0 * values - 1.0) * column_scale
        tensors[name] = (values.round() if integer_valued else values).to(dtype)
    for name, columns, flag_dtype in zip(flag_names, patterns, flag_dtypes, strict=True):
        uniform = torch.rand(steps, envs, generator=generator, dtype=torch.float64)
        rates = torch.tensor([rate for rate, _ in columns], dtype=torch.float64)
        ends = uniform < rates
        for n, (_, edges) in enumerate(columns):
            if edges in ("first", "first and last"):
                ends[0, n] = True
            if edges in ("last", "first and last"):
                ends[-1, n] = True
        tensors[name] = ends.to(flag_dtype)
    return tensors
