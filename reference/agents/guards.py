"""The guard against non-finite numbers: a NaN or infinite loss, reward or observation stops
training with a :class:`NonFiniteError` naming the quantity and the step, instead of training
on silently."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["NonFiniteError", "check_finite"]


class NonFiniteError(RuntimeError):
    """A NaN or infinite quantity appeared during training."""


def check_finite(quantity: str, value: Any, step: int) -> None:
    """Raise :class:`NonFiniteError` if ``value`` (tensor, array or number) holds NaN or inf."""
    if isinstance(value, float | int):
        finite = math.isfinite(value)
    elif isinstance(value, torch.Tensor):
        finite = bool(torch.isfinite(value).all())
    else:
        finite = bool(np.isfinite(value).all())
    if not finite:
        raise NonFiniteError(f"non-finite {quantity} at step {step}: training stopped")
