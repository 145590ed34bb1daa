"""Entry checks shared by the reference kernels.

Every reference kernel validates its arguments before any math, so a user's
mistake surfaces as a ``TypeError``/``ValueError`` that names the argument,
never as a silent broadcast. These checks are the reference's own promise;
verifying another implementation does not require them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_flags",
    "check_floating",
    "check_observations",
    "check_positive_int",
    "check_same_device",
    "check_scalar",
    "check_shape",
    "check_unit_interval",
]


def _shape_text(shape: Sequence[int | str]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def check_floating(name: str, x: object) -> torch.Tensor:
    """``x`` must be a floating-point tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_shape(name: str, x: torch.Tensor, shape: Sequence[int | str]) -> None:
    """``x.shape`` must equal ``shape``; a string entry is a named dimension.

    Named dimensions are only checked for rank here; callers compare them
    across arguments with explicit sizes.
    """
    if x.dim() != len(shape) or any(
        isinstance(want, int) and got != want for got, want in zip(x.shape, shape, strict=False)
    ):
        raise ValueError(f"{name} must have shape {_shape_text(shape)}, got {list(x.shape)}")


def check_flags(name: str, x: object, shape: Sequence[int]) -> torch.Tensor:
    """Episode flags: a bool tensor, or a floating tensor holding only 0 and 1."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    check_shape(name, x, shape)
    if x.dtype == torch.bool:
        return x
    if not x.is_floating_point():
        raise TypeError(f"{name} must be bool or a 0/1 float tensor, got dtype {x.dtype}")
    if not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name} must hold only 0 and 1")
    return x


def check_scalar(
    name: str,
    value: object,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    strict: bool = False,
    kind: str = "a number",
    rule: str = "finite",
    finite_rule: str | None = None,
    tensor: bool = True,
    show_float: bool = False,
) -> Any:
    """The one checker of scalar arguments (gamma, lam, alpha, beta, eps, sizes, tolerances).

    Accepts an integer (``integer``) or an integer or a float: Python's or numpy's of any
    width (``np.float32(0.99)`` is as good a gamma as ``0.99``, which numpy's ``float64``
    already was by subclassing ``float``); never a ``bool`` (``np.bool_`` included), a
    complex number or a string. With ``tensor`` a 0-d tensor or 0-d numpy array stands for
    its ``item()``. Anything else is a ``TypeError`` ``"{name} must be {kind}, got {type}"``.

    A number must be finite (``ValueError`` ``"{name} must be {finite_rule}, got {value}"``,
    ``finite_rule`` defaulting to ``rule``) and, for both kinds, lie in ``[low, high]``
    (``(low, high)`` when ``strict``; a missing bound is no bound), else ``ValueError``
    ``"{name} must be {rule}, got {value}"``. The value shown is the one given, or its
    ``float`` with ``show_float``. Returns the value as ``int`` or ``float``.

    The wording is the caller's: each kernel's messages are part of its documented behaviour.
    """
    if tensor and isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()
    # np.bool_ is neither np.integer nor int, so it falls out with Python's bool.
    accepted: tuple[type, ...] = (
        (int, np.integer) if integer else (int, float, np.integer, np.floating)
    )
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")
    number = int(value) if integer else float(value)
    shown = float(value) if show_float else value
    # An int is always finite (and math.isfinite would overflow on a huge one).
    if not integer and not math.isfinite(number):
        raise ValueError(f"{name} must be {finite_rule or rule}, got {shown}")
    below = low is not None and (number <= low if strict else number < low)
    above = high is not None and (number >= high if strict else number > high)
    if below or above:
        raise ValueError(f"{name} must be {rule}, got {shown}")
    return number


def check_unit_interval(name: str, value: object) -> float:
    """A real number in [0, 1] (gamma, lam)."""
    return check_scalar(name, value, low=0.0, high=1.0, kind="a number in [0, 1]", rule="in [0, 1]")


def check_same_device(**tensors: torch.Tensor) -> None:
    """All tensors on one device (torch would raise later, with a worse message)."""
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        listing = ", ".join(f"{n} on {d}" for n, d in devices.items())
        raise ValueError(f"arguments must be on one device, got {listing}")


def check_positive_int(name: str, value: object) -> int:
    """An int (Python's or numpy's) of at least 1 (sizes, iteration counts); never a ``bool``."""
    return check_scalar(
        name, value, integer=True, low=1, tensor=False, kind="an int", rule="at least 1"
    )


def check_observations(observations: object, obs_dim: int) -> torch.Tensor:
    """A floating ``[B, obs_dim]`` batch of observations for a network's forward pass."""
    tensor = check_floating("observations", observations)
    if tensor.dim() != 2 or tensor.shape[1] != obs_dim:
        raise ValueError(f"observations must have shape [B, {obs_dim}], got {list(tensor.shape)}")
    return tensor
