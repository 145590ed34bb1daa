"""Properties of ``kkt_step``: ``s = sqrt(2 max_kl / (x . Hx)) * x``, onto the trust region's edge.

Spec: Trust region. Seed: :four: TRPO / KKT 条件推导, 共轭梯度 (step 2).

``H = Q diag(eigenvalues) Q^T`` is generated with a known condition number
and an overall scale from 1e-6 to 1e3 (a tiny curvature is where an ``eps``
added to ``x . Hx`` changes the step); directions have magnitudes from 1e-3
to 1e2, in float32 and float64.

Tolerances. ``0.5 c^2 (x . Hx)`` for the step's coefficient ``c`` along ``x``
involves a square root, a division and a dot product: relative error a few
``u32`` in float32, within ``FLOAT32_RTOL``. Where the quadratic form
``q = 0.5 s^T H s`` is recomputed from a step ``s`` with relative error
``eps``, ``|dq| / q <= 2 eps sqrt(kappa)`` (Cauchy-Schwarz in the ``H`` inner
product), so those comparisons allow ``FLOAT32_RTOL * sqrt(kappa)``; the same
bound covers ``g^T s``.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from properties.spd import condition_numbers, spd_matrix
from properties.strategies import float_dtypes

CONTRACT = "kkt_step"

sizes = st.integers(min_value=1, max_value=30)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
curvature_scales = st.sampled_from([1e-6, 1e-3, 1.0, 1e3])
magnitudes = st.sampled_from([1e-3, 1.0, 1e2])
max_kls = st.one_of(st.sampled_from([0.01, 1.0]), st.floats(min_value=1e-4, max_value=1.0))


@st.composite
def kkt_inputs(draw: st.DrawFn, dtypes: st.SearchStrategy[torch.dtype] = float_dtypes) -> dict:
    """A direction ``x``, ``H x`` for a generated SPD ``H``, ``max_kl``."""
    size = draw(sizes)
    condition = draw(condition_numbers)
    seed = draw(seeds)
    matrix, _, _ = spd_matrix(size, condition, seed, scale=draw(curvature_scales))
    generator = torch.Generator().manual_seed(seed + 1)
    direction = draw(magnitudes) * torch.randn(size, generator=generator, dtype=torch.float64)
    dtype = draw(dtypes)
    return {
        "direction": direction.to(dtype),
        "h_direction": (matrix @ direction).to(dtype),
        "max_kl": draw(max_kls),
        "matrix": matrix,
        "condition": condition,
    }


def _step(impl, inputs: dict, device: str) -> torch.Tensor:
    step = impl(inputs["direction"].to(device), inputs["h_direction"].to(device), inputs["max_kl"])
    step = as_cpu_tensor(step, "kkt_step")
    if step.shape != inputs["direction"].shape:
        raise AssertionError(
            f"kkt_step: shape {list(step.shape)}, expected {list(inputs['direction'].shape)}"
        )
    if not bool(torch.isfinite(step).all()):
        raise AssertionError(f"kkt_step: non-finite step {step.tolist()}")
    return step


def _coefficient(step: torch.Tensor, direction: torch.Tensor) -> float:
    """``c`` with ``step ~ c * direction`` (least squares)."""
    return float(step @ direction) / float(direction @ direction)


@given(inputs=kkt_inputs())
def test_quadratic_model_equals_max_kl(impl, device, inputs):
    """0.5 s^T H s == max_kl, with H s = c * h_direction for s = c * direction."""
    direction = inputs["direction"].double()
    h_direction = inputs["h_direction"].double()
    c = _coefficient(_step(impl, inputs, device), direction)
    model = 0.5 * c * c * float(direction @ h_direction)
    if abs(model - inputs["max_kl"]) > FLOAT32_RTOL * inputs["max_kl"]:
        raise AssertionError(
            f"0.5 s^T H s = {model!r}, expected max_kl = {inputs['max_kl']!r} "
            f"(relative difference {abs(model / inputs['max_kl'] - 1):.3g} > {FLOAT32_RTOL:g}; "
            f"x . Hx = {float(direction @ h_direction):.3g})"
        )


@given(inputs=kkt_inputs())
def test_positive_multiple_of_direction(impl, device, inputs):
    """The step points along the direction: s = c * direction with c > 0."""
    direction = inputs["direction"].double()
    step = _step(impl, inputs, device)
    c = _coefficient(step, direction)
    if not c > 0:
        raise AssertionError(f"the step is {c!r} times the direction; expected a positive multiple")
    off_line = float((step - c * direction).norm())
    if off_line > FLOAT32_RTOL * float(step.norm()):
        raise AssertionError(
            f"the step is not parallel to the direction: ||s - c x|| = {off_line:.3g} with "
            f"||s|| = {float(step.norm()):.3g} (c = {c:.6g})"
        )


@given(
    inputs=kkt_inputs(dtypes=st.just(torch.float64)),
    gradient_seed=seeds,
    spreads=st.lists(st.sampled_from([0.0, 1e-2, 1e-1, 1.0, 10.0]), min_size=1, max_size=4),
)
def test_maximises_linear_model_over_ellipsoid(impl, device, inputs, gradient_seed, spreads):
    """For direction = H^-1 g: s is feasible; no x with 0.5 x^T H x <= max_kl has larger g^T x."""
    matrix, max_kl = inputs["matrix"], inputs["max_kl"]
    size = matrix.shape[0]
    generator = torch.Generator().manual_seed(gradient_seed)
    gradient = torch.randn(size, generator=generator, dtype=torch.float64)
    direction = torch.linalg.solve(matrix, gradient)
    step = _step(impl, dict(inputs, direction=direction, h_direction=matrix @ direction), device)
    rtol = FLOAT32_RTOL * math.sqrt(inputs["condition"])

    model = 0.5 * float(step @ matrix @ step)
    if model > max_kl * (1 + rtol):
        raise AssertionError(
            f"the step leaves the trust region: 0.5 s^T H s = {model!r} > max_kl = {max_kl!r}"
        )
    # Feasible points on the boundary (where a linear function peaks), along
    # random directions and along perturbations of H^-1 g of several sizes.
    noise = torch.randn(64, size, generator=generator, dtype=torch.float64)
    spread = torch.tensor(spreads, dtype=torch.float64).repeat(64)[:64, None]
    candidates = direction + spread * direction.norm() * noise
    candidates = torch.cat([candidates, noise])
    curvature = ((candidates @ matrix) * candidates).sum(dim=1)
    points = candidates * torch.sqrt(2 * max_kl / curvature)[:, None]
    best = float((points @ gradient).max())
    achieved = float(step @ gradient)
    if best > achieved + rtol * abs(achieved):
        raise AssertionError(
            f"a feasible point has g^T x = {best!r} > g^T s = {achieved!r} for the step s "
            f"(the maximum is sqrt(2 max_kl g^T H^-1 g) = "
            f"{math.sqrt(2 * max_kl * float(gradient @ direction))!r})"
        )
