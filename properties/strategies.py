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
