"""Properties of ``kkt_step``: ``s = sqrt(2 max_kl / (x . Hx)) * x``, onto the trust region's edge.

Spec: Trust region. Seed: :four: TRPO / KKT 条件推导, 共轭梯度 (step 2).

``H = Q diag(eigenvalues) Q^T`` is generated with a known condition number
(1 to 1000); the direction ``x`` and ``H`` are scaled so that the curvature
``q = x . Hx`` is log-uniform over ``[1e-30, 1e30]`` (both ends drawn
explicitly) with the magnitude split between ``x`` and ``H`` at random
(entries of ``x`` within ``10^+-5`` of ``sqrt(q)``); ``max_kl`` is
log-uniform over ``[1e-6, 1]`` (ends included); inputs come in float32 and
float64. Over that range ``2 max_kl / q`` lies in ``[2e-36, 2e30]`` and every
entry and product stays a normal float32 number, so an implementation that
computes in float32 inside must pass, and a tiny curvature is where an
``eps`` added to (or a floor put under) ``x . Hx`` changes the step: the
seed's ``+ 1e-8`` is off by a factor 1e22 at ``q = 1e-30``.
:func:`test_float64_range_beyond_float32` goes on to ``q`` from 1e-200 to
1e200 in float64, where casting to float32 underflows to 0 or overflows to
inf: a float64 input is to be handled in float64's range (a float32
computation inside is allowed for its accuracy, not for its range).
:func:`test_large_dimension` has ``D`` from 1000 to 4096.

``x . Hx <= 0`` (a zero direction, or ``H`` not positive definite along it)
is outside the contract: no finite step reaches the boundary. The reference
raises ``ValueError`` there (tests/test_trust_region.py); the properties never
pass it, and do not judge what another implementation does with it.

Tolerances. ``0.5 c^2 (x . Hx)`` for the step's coefficient ``c`` along ``x``
involves a square root, a division and a dot product: relative error a few
``u32`` in float32, within ``FLOAT32_RTOL``. At large ``D`` the dot product
dominates: summed in float32 it errs by at most about ``log2(D) u32`` (pairwise
or blocked summation; ``sqrt(D) u32`` typical for a sequential loop, 4e-6 at
``D = 4096``) relative to ``sum_i |x_i (Hx)_i|``, so the tolerance there is
``FLOAT32_RTOL * sum_i |x_i (Hx)_i| / (x . Hx)``. Where the quadratic form
``q = 0.5 s^T H s`` is recomputed from a step ``s`` with relative error
``eps``, ``|dq| / q <= 2 eps sqrt(kappa)`` (Cauchy-Schwarz in the ``H`` inner
product), so those comparisons allow ``FLOAT32_RTOL * sqrt(kappa)``; the same
bound covers ``g^T s``.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from drlspec.properties.spd import StructuredSPD, condition_numbers, spd_matrix
from drlspec.properties.strategies import float_dtypes, log_uniform

CONTRACT = "kkt_step"

sizes = st.integers(min_value=1, max_value=30)
large_sizes = st.integers(min_value=1000, max_value=4096)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
# x . Hx over the whole float32-safe range, the ends drawn explicitly.
curvatures = st.one_of(st.sampled_from([1e-30, 1e30, 1.0]), log_uniform(1e-30, 1e30))
# Beyond float32's range (its normal numbers span 1.2e-38 .. 3.4e38), float64 only.
float64_curvatures = st.one_of(
    st.sampled_from([1e-200, 1e200]), log_uniform(1e-200, 1e-40), log_uniform(1e40, 1e200)
)
max_kls = st.one_of(st.sampled_from([1e-6, 0.01, 1.0]), log_uniform(1e-6, 1.0))
# How the magnitude of q is split between x and H: x ~ sqrt(q) * 10^split, H ~ 10^(-2 split).
splits = st.floats(min_value=-5.0, max_value=5.0)


def _scaled(curvature: float, q: float, split: float) -> tuple[float, float]:
    """Factors ``(a, h)`` with ``(a x) . (h H)(a x) = q`` for ``x . Hx = curvature``."""
    a = math.sqrt(q / curvature) * 10.0**split
    return a, 10.0 ** (-2.0 * split)


@st.composite
def kkt_inputs(
    draw: st.DrawFn,
    dtypes: st.SearchStrategy[torch.dtype] = float_dtypes,
    qs: st.SearchStrategy[float] = curvatures,
) -> dict:
    """A direction ``x``, ``H x`` for a generated SPD ``H``, ``max_kl``; ``x . Hx = q`` drawn."""
    size = draw(sizes)
    condition = draw(condition_numbers)
    seed = draw(seeds)
    matrix, _, _ = spd_matrix(size, condition, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    direction = torch.randn(size, generator=generator, dtype=torch.float64)
    q = draw(qs)
    a, h = _scaled(float(direction @ matrix @ direction), q, draw(splits))
    direction, matrix = a * direction, h * matrix
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


def _assert_on_boundary(step: torch.Tensor, inputs: dict, rtol: float, what: str) -> None:
    """``0.5 c^2 (x . Hx) == max_kl`` within ``rtol``; ``s`` parallel to ``x``, ``c > 0``."""
    direction = inputs["direction"].double()
    curvature = float(direction @ inputs["h_direction"].double())
    c = _coefficient(step, direction)
    model = 0.5 * c * c * curvature
    if not c > 0 or abs(model - inputs["max_kl"]) > rtol * inputs["max_kl"]:
        raise AssertionError(
            f"{what}: 0.5 s^T H s = {model!r} (step = {c!r} x direction), expected max_kl = "
            f"{inputs['max_kl']!r} within {rtol:.3g} relative; x . Hx = {curvature:.3g}, "
            f"D = {direction.shape[0]}"
        )
    off_line = float((step - c * direction).norm())
    if off_line > rtol * float(step.norm()):
        raise AssertionError(
            f"{what}: the step is not parallel to the direction: ||s - c x|| = {off_line:.3g} "
            f"with ||s|| = {float(step.norm()):.3g}"
        )


@given(inputs=kkt_inputs(dtypes=st.just(torch.float64), qs=float64_curvatures))
def test_float64_range_beyond_float32(impl, device, inputs):
    """float64 inputs with x . Hx from 1e-200 to 1e-40 and 1e40 to 1e200: still on the boundary.

    No float32 number holds such a curvature: an implementation that casts to
    float32 gets 0 or inf (and a NaN or infinite step), one that adds an
    ``eps`` to ``x . Hx`` a step too short by up to 1e90.
    """
    _assert_on_boundary(_step(impl, inputs, device), inputs, FLOAT32_RTOL, "kkt_step")


@st.composite
def large_kkt_inputs(draw: st.DrawFn) -> dict:
    """``D`` from 1000 to 4096, ``H`` a :class:`StructuredSPD` (kappa 1..1000), any dtype, any q."""
    size = draw(large_sizes)
    condition = draw(log_uniform(1.0, 1000.0))
    seed = draw(seeds)
    operator = StructuredSPD(size, condition, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    direction = torch.randn(size, generator=generator, dtype=torch.float64)
    q = draw(curvatures)
    a, h = _scaled(float(operator.quadratic(direction)), q, draw(splits))
    direction = a * direction
    dtype = draw(float_dtypes)
    return {
        "direction": direction.to(dtype),
        "h_direction": (h * operator.matvec(direction)).to(dtype),
        "max_kl": draw(max_kls),
        "condition": condition,
    }


@settings(max_examples=4, deadline=None)
@given(inputs=large_kkt_inputs())
def test_large_dimension(impl, device, inputs):
    """D = 1000..4096: 0.5 s^T H s == max_kl and s = c x, c > 0, at float32 dot-product accuracy."""
    direction = inputs["direction"].double()
    h_direction = inputs["h_direction"].double()
    # Condition number of the dot product x . Hx (see the module docstring).
    spread = float((direction * h_direction).abs().sum() / (direction @ h_direction))
    _assert_on_boundary(
        _step(impl, inputs, device), inputs, FLOAT32_RTOL * max(spread, 1.0), "kkt_step at large D"
    )
