"""What every torchrl adapter shares: the array layout.

Imports nothing of torchrl, so that the benchmark registry (:mod:`peers.benchmarks`) can be
collected without it.
"""

from __future__ import annotations

import torch

__all__ = ["from_torchrl", "to_torchrl"]


def to_torchrl(x: torch.Tensor) -> torch.Tensor:
    """The contract's ``[T, N]`` as torchrl's ``[N, T, 1]`` (``[*batch, T, F]``)."""
    return x.T.unsqueeze(-1)


def from_torchrl(x: torch.Tensor) -> torch.Tensor:
    """torchrl's ``[N, T, 1]`` back to the contract's ``[T, N]``."""
    return x.squeeze(-1).T
