"""Comparison helpers: failures say which element differed, by how much, and why that is too much.

Tolerances. The contracts judge agreement at float32 accuracy: an
implementation that computes internally in float32 must pass. The unit
roundoff of float32 is ``u = 2**-24 ≈ 6e-8``; a kernel of ``k`` dependent
operations on values of magnitude up to ``scale`` errs by at most about
``k * u * scale``. ``FLOAT32_RTOL = 1e-5`` (about 170 u) leaves room for the
longest chains in these contracts (the k ≤ ~50 of a discounted sum the
properties generate) while staying four orders of magnitude below the O(1)
relative errors that a wrong formula makes on the generated inputs.

Indices. A failure names the element it reports by axis, as the contract's
signature names them: ``[t=3, n=1]`` in a ``[T,N]`` result, ``[b=2]`` in a
``[B]`` one. ``assert_close`` takes the names from ``axes=`` or, by default,
from the result of the implementation's latest call when the compared arrays
have that result's shape (the harness's :class:`Target` notes each result with
:func:`note_result`); otherwise it writes the bare position, ``[3, 1]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["FLOAT32_RTOL", "as_cpu_tensor", "assert_close", "format_index", "note_result"]

FLOAT32_RTOL = 1e-5

# (shape, axis names) of the latest result of the implementation under test.
_latest_result: tuple[tuple[int, ...], tuple[str, ...]] | None = None


def note_result(shape: tuple[int, ...], declared: str) -> None:
    """Remember a result's shape and the axes its contract declares (``"[T,N]"``: t, n)."""
    global _latest_result
    match = re.search(r"\[([^\]]*)\]", declared)
    names = tuple(n.strip().lower() for n in match.group(1).split(",")) if match else ()
    _latest_result = (shape, names) if len(names) == len(shape) else None


def _axis_names(shape: tuple[int, ...], axes: Sequence[str] | None) -> Sequence[str] | None:
    if axes is not None:
        return axes if len(axes) == len(shape) else None
    if _latest_result is not None and _latest_result[0] == shape:
        return _latest_result[1]
    return None


def format_index(index: Sequence[int], axes: Sequence[str] | None = None) -> str:
    """``[t=3, n=1]`` with axis names, ``[3, 1]`` without."""
    if axes is None or len(axes) != len(index):
        return "[" + ", ".join(str(i) for i in index) + "]"
    return "[" + ", ".join(f"{a}={i}" for a, i in zip(axes, index, strict=True)) + "]"


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
    axes: Sequence[str] | None = None,
) -> None:
    """``actual`` equals ``expected`` elementwise within ``rtol * scale``.

    ``scale`` is the magnitude of the quantities the result is computed from
    (default: the largest ``|expected|``, at least 1); absolute and relative
    error are judged against it, so cancellation does not make a tolerance
    vanish. ``tolerance``, when given, is an elementwise absolute bound of
    ``expected``'s shape derived by the caller (an error analysis per
    element, for inputs whose magnitudes vary too much for one scale) and
    replaces ``rtol * scale``. Shapes must match exactly: nothing is broadcast.
    Every element of ``actual`` must be finite, and so must ``expected``: a
    non-finite expected value is reported, never compared (``nan`` would
    compare as a pass). ``axes`` names the axes in messages (module doc).
    """
    actual_t = as_cpu_tensor(actual, what)
    expected_t = expected.detach().to("cpu", torch.float64)
    if actual_t.shape != expected_t.shape:
        raise AssertionError(
            f"{what}: shape {list(actual_t.shape)}, expected {list(expected_t.shape)}"
        )
    if actual_t.numel() == 0:
        return
    names = _axis_names(tuple(actual_t.shape), axes)

    def element(index: tuple[int, ...]) -> str:
        return "the value" if not index else f"element {format_index(index, names)}"

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
        got, want = actual_t[index].item(), expected_t[index].item()
        if np.isfinite(want):
            raise AssertionError(f"{what}: {element(index)} is {got}, expected {want!r}")
        # Both sides non-finite: in a comparison of two of the implementation's own
        # results (a metamorphic property) both are wrong; "nan, expected nan" would hide it.
        raise AssertionError(
            f"{what}: {element(index)} is {got}, but must be finite; the value it is "
            f"compared with is {want} too, so that one is not finite either"
        )
    expected_finite = torch.isfinite(expected_t)
    if not bool(expected_finite.all()):
        index = tuple(int(i) for i in (~expected_finite).nonzero()[0])
        raise AssertionError(
            f"{what}: {element(index)} is {actual_t[index].item()!r}, compared with a "
            f"non-finite value {expected_t[index].item()} (no finite result can match it)"
        )
    difference = (actual_t - expected_t).abs()
    excess = difference / bound.clamp_min(torch.finfo(torch.float64).tiny)
    worst = int(excess.argmax())
    index = tuple(int(i) for i in np.unravel_index(worst, tuple(difference.shape)))
    if difference[index] > bound[index]:
        raise AssertionError(
            f"{what}: {element(index)} is {actual_t[index].item()!r}, expected "
            f"{expected_t[index].item()!r} (|difference| {difference[index].item():.3g} > "
            f"tolerance {bound[index].item():.3g} = {how})"
        )
