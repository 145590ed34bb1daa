"""What every torchrl adapter shares: the array layout, and the threshold of its geometric filter.

Imports nothing of torchrl, so that the benchmark registry (:mod:`peers.benchmarks`) can be
collected without it.
"""

from __future__ import annotations

import torch

__all__ = ["GEOMETRIC_THRESHOLD", "from_torchrl", "to_torchrl"]

# torchrl's geometric filter keeps the powers above this threshold; a ratio
# below it leaves no term at all (see docs/peers.md).
GEOMETRIC_THRESHOLD = 1e-7


def to_torchrl(x: torch.Tensor) -> torch.Tensor:
    """The contract's ``[T, N]`` as torchrl's ``[N, T, 1]`` (``[*batch, T, F]``)."""
    return x.T.unsqueeze(-1)


def from_torchrl(x: torch.Tensor) -> torch.Tensor:
    """torchrl's ``[N, T, 1]`` back to the contract's ``[T, N]``."""
    return x.squeeze(-1).T
