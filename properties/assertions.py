"""Comparison helpers: failures say which element differed, by how much, and why that is too much.

Tolerances. The contracts judge agreement at float32 accuracy: an
implementation that computes internally in float32 must pass. The unit
roundoff of float32 is ``u = 2**-24 ≈ 6e-8``; a kernel of ``k`` dependent
operations on values of magnitude up to ``scale`` errs by at most about
``k * u * scale``. ``FLOAT32_RTOL = 1e-5`` (about 170 u) leaves room for the
longest chains in these contracts (the k ≤ ~50 of a discounted sum the
properties generate) while staying four orders of magnitude below the O(1)
relative errors that a wrong formula makes on the generated inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["FLOAT32_RTOL", "as_cpu_tensor", "assert_close"]

FLOAT32_RTOL = 1e-5


def as_cpu_tensor(value: Any, what: str) -> torch.Tensor:
    """The implementation's output as a float64 CPU tensor; a non-tensor output fails."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise AssertionError(f"{what}: expected a tensor, got {type(value).__name__}")
    return value.detach().to("cpu", torch.float64)


def assert_close(
    actual: Any,
    expected: torch.Tensor,
    *,
    what: str,
    scale: float | torch.Tensor | None = None,
    rtol: float = FLOAT32_RTOL,
    tolerance: torch.Tensor | None = None,
) -> None:
    """``actual`` equals ``expected`` elementwise within ``rtol * scale``.

    ``scale`` is the magnitude of the quantities the result is computed from
    (default: the largest ``|expected|``, at least 1); absolute and relative
    error are judged against it, so cancellation does not make a tolerance
    vanish. ``tolerance``, when given, is an elementwise absolute bound of
    ``expected``'s shape derived by the caller (an error analysis per
    element, for inputs whose magnitudes vary too much for one scale) and
    replaces ``rtol * scale``. Shapes must match exactly: nothing is broadcast.
    """
    actual_t = as_cpu_tensor(actual, what)
    expected_t = expected.detach().to("cpu", torch.float64)
    if actual_t.shape != expected_t.shape:
        raise AssertionError(
            f"{what}: shape {list(actual_t.shape)}, expected {list(expected_t.shape)}"
        )
    if actual_t.numel() == 0:
        return
    if tolerance is not None:
        bound = tolerance.detach().to("cpu", torch.float64)
        if bound.shape != expected_t.shape:
            raise ValueError(
                f"tolerance has shape {list(bound.shape)}, expected's is {list(expected_t.shape)}"
            )
        how = "elementwise error bound"
    else:
        if scale is None:
            scale = float(expected_t.abs().max())
        scale = max(float(scale), 1.0)
        bound = torch.full_like(expected_t, rtol * scale)
        how = f"{rtol:g} x scale {scale:.3g}"
    finite = torch.isfinite(actual_t)
    if not bool(finite.all()):
        index = tuple(int(i) for i in (~finite).nonzero()[0])
        raise AssertionError(
            f"{what}: element {list(index)} is {actual_t[index].item()}, expected "
            f"{expected_t[index].item()!r}"
        )
    difference = (actual_t - expected_t).abs()
    excess = difference / bound.clamp_min(torch.finfo(torch.float64).tiny)
    worst = int(excess.argmax())
    index = tuple(int(i) for i in np.unravel_index(worst, tuple(difference.shape)))
    if difference[index] > bound[index]:
        raise AssertionError(
            f"{what}: element {list(index)} is {actual_t[index].item()!r}, expected "
            f"{expected_t[index].item()!r} (|difference| {difference[index].item():.3g} > "
            f"tolerance {bound[index].item():.3g} = {how})"
        )
