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
    "real_tensors",
    "torch_generators",
]

FLOAT_DTYPES = (torch.float64, torch.float32)
FLAG_DTYPES = (torch.bool, torch.float32, torch.float64)

_NUMPY = {torch.float64: np.float64, torch.float32: np.float32}

batch_sizes = st.integers(min_value=1, max_value=32)
action_counts = st.integers(min_value=1, max_value=18)
float_dtypes = st.sampled_from(FLOAT_DTYPES)

# 0 and 1 are where special branches hide; draw them often, not by luck.
discounts = st.one_of(
    st.sampled_from([0.0, 1.0]),
    st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
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


# Rollouts ``[T, N]`` (returns and advantages). T stays below ~50 so that a
# float32 discounted sum over a whole column stays within FLOAT32_RTOL (see
# properties/assertions.py); N from 1 so that a kernel that only works for one
# environment, or mixes environments, is caught.
time_steps = st.integers(min_value=1, max_value=48)
env_counts = st.integers(min_value=1, max_value=6)

# Per-step probability of an episode end: never, rarely (long episodes, long
# traces), often (ends at the first and the last step come up), always.
_END_ELEMENTS = (
    st.just(False),
    st.integers(min_value=0, max_value=7).map(lambda k: k == 0),
    st.booleans(),
    st.just(True),
)


def episode_flags(shape: tuple[int, ...], dtype: torch.dtype | None = None) -> st.SearchStrategy:
    """Episode-end flags at a drawn density, as bool or 0/1 floats."""
    dtypes = st.just(dtype) if dtype is not None else st.sampled_from(FLAG_DTYPES)

    @st.composite
    def build(draw: st.DrawFn) -> torch.Tensor:
        elements = draw(st.sampled_from(_END_ELEMENTS))
        raw = draw(hnp.arrays(np.bool_, shape, elements=elements))
        return torch.from_numpy(raw).to(draw(dtypes))

    return build()


# Symmetric positive definite matrices (trust-region kernels). Never identities
# only: the spectrum is spread over [1, condition] with both ends present, so
# the condition number is exactly the one drawn, and an eigenbasis from a
# seeded QR makes every entry of H non-trivial.
def spd_matrix(
    size: int,
    condition: float,
    seed: int,
    *,
    distinct: int | None = None,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(H, eigenvalues, eigenvectors)`` in float64, ``H = Q diag(eigenvalues) Q^T``.

    Eigenvalues lie in ``scale * [1, condition]``, log-uniform inside, with both
    ends present when ``size >= 2``; ``distinct`` limits them to that many
    distinct values (repeated eigenvalues, where CG finishes early).
    """
    generator = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(size, size, generator=generator, dtype=torch.float64))
    levels = distinct if distinct is not None else size
    log_values = torch.rand(levels, generator=generator, dtype=torch.float64)
    log_values[0] = 0.0
    if levels >= 2:
        log_values[1] = 1.0
    values = torch.tensor(condition, dtype=torch.float64) ** log_values
    if distinct is not None:
        picks = torch.randint(levels, (size,), generator=generator)
        picks[: min(levels, size)] = torch.arange(min(levels, size))
        values = values[picks]
    eigenvalues = scale * values
    matrix = (basis * eigenvalues) @ basis.T
    return (matrix + matrix.T) / 2, eigenvalues, basis


condition_numbers = st.one_of(
    st.sampled_from([1.0, 10.0, 100.0]),
    st.floats(min_value=1.0, max_value=1000.0),
)
"""Condition numbers of generated SPD matrices: exactly 1 (a multiple of I) included."""
