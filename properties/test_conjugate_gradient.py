"""Properties of ``conjugate_gradient``: solve ``H x = b`` for SPD ``H`` given only ``v -> H v``.

Spec: Trust region. Seed: :four: TRPO / 共轭梯度.

The matrices are ``H = Q diag(eigenvalues) Q^T`` from a seeded generator, with
eigenvalues spread over ``[1, kappa]`` (both ends present), so the condition
number is known exactly. The implementation only ever receives a
:class:`Matvec`: a callable that counts its calls, accepts nothing but a
``[D]`` vector and keeps the matrix in a closure.

Tolerances. Conjugate gradient's classical bound (Nocedal & Wright 2006,
eq. 5.36) is, with ``x_0 = 0`` so that ``e_0 = -x*``,

    ||x_k - x*||_H <= 2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^k ||x*||_H.

Rounding adds to it. An implementation that computes in float32 has a
relative error of at least ``u32 * sqrt(kappa)`` in the ``H``-norm just from
storing ``x`` (``u32 = 2**-24``), and each of its up to 35 iterations adds an
error of order ``u32 * kappa``, so about ``35 * 4 * u32 * kappa``. Measured on
1500 generated systems, a float32 CG (tests/alternatives/conjugate_gradient.py)
stays below ``0.7e-5 * kappa``. ``ROUNDING = 4 * FLOAT32_RTOL * kappa``
(``4e-5 * kappa``) leaves a factor of about 6 over that and is still three
orders of magnitude below what a wrong recurrence leaves behind (steepest
descent after ``k`` steps: about ``((kappa - 1) / (kappa + 1))^k``, e.g. 0.5
for kappa = 10 and k = 4). "Exact after ``D`` iterations" and "``m`` distinct
eigenvalues take ``m`` iterations" hold in exact arithmetic; there the
tolerance is the same rounding allowance, on well-conditioned matrices
(kappa <= 10).
"""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from properties.spd import condition_numbers, spd_matrix

CONTRACT = "conjugate_gradient"

sizes = st.integers(min_value=1, max_value=30)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
# Right-hand sides of very different magnitudes: a residual test that is not
# scale-aware shows up at one end or the other.
magnitudes = st.sampled_from([1e-3, 1.0, 1e3])


def _rounding(condition: float) -> float:
    """The float32 rounding allowance in the H-norm, relative to ||x*||_H (see the docstring)."""
    return 4 * FLOAT32_RTOL * condition


def _tiny_tolerance(b: torch.Tensor) -> float:
    """A ``residual_tol`` that never stops a run before float64 rounding would.

    Far below ``(1e-12 ||b||)^2``, it cannot cut a run short whether an
    implementation compares it with ``r.r`` or with ``||r||``; being positive,
    it lets an implementation that stops on ``r.r < residual_tol`` stop once the
    residual is exactly zero, rather than divide ``0 / 0``.
    """
    return 1e-30 * max(float(b @ b), 1e-30)


class Matvec:
    """``v -> H v`` for one SPD matrix; counts its calls and shows only products.

    The matrix lives in a closure, not in an attribute; a call with anything
    but a ``[D]`` tensor raises, so that nobody can pull ``H`` out with an
    identity matrix. The product is computed in the dtype of ``v``, which lets
    an implementation work in float32 if it likes.
    """

    def __init__(self, matrix: torch.Tensor, device: str) -> None:
        size = matrix.shape[0]
        on_device = matrix.to(device)
        literal = repr(matrix.tolist())

        def product(vector: torch.Tensor) -> torch.Tensor:
            return on_device.to(vector.dtype) @ vector

        def source() -> str:
            return f"(lambda v: torch.tensor({literal}, dtype=torch.float64).to(v.dtype) @ v)"

        self._product = product
        self._source = source
        self._size = size
        self.calls = 0

    def __call__(self, vector: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if not isinstance(vector, torch.Tensor) or tuple(vector.shape) != (self._size,):
            shape = list(vector.shape) if isinstance(vector, torch.Tensor) else type(vector)
            raise ValueError(f"matvec takes one [D] = [{self._size}] vector, got {shape}")
        return self._product(vector)

    def __drlspec_repro__(self) -> str:
        return self._source()

    def __repr__(self) -> str:
        return f"Matvec(D={self._size}, calls={self.calls})"


@st.composite
def systems(
    draw: st.DrawFn,
    conditions: st.SearchStrategy[float] = condition_numbers,
    distinct: st.SearchStrategy[int] | None = None,
) -> dict:
    """An SPD system ``H x = b``: its matrix, eigen-decomposition, right-hand side, solution.

    ``distinct`` draws how many distinct eigenvalues ``H`` has (default: all).
    """
    size = draw(sizes)
    condition = draw(conditions)
    seed = draw(seeds)
    levels = None if distinct is None else draw(distinct)
    matrix, eigenvalues, eigenvectors = spd_matrix(size, condition, seed, distinct=levels)
    generator = torch.Generator().manual_seed(seed + 1)
    b = draw(magnitudes) * torch.randn(size, generator=generator, dtype=torch.float64)
    return {
        "size": size,
        "condition": condition,
        "seed": seed,
        "distinct": levels,
        "matrix": matrix,
        "eigenvalues": eigenvalues,
        "eigenvectors": eigenvectors,
        "b": b,
        "solution": torch.linalg.solve(matrix, b),
    }


def _h_norm(matrix: torch.Tensor, vector: torch.Tensor) -> float:
    return math.sqrt(max(float(vector @ matrix @ vector), 0.0))


def _solve(impl, system: dict, iters: int, residual_tol: float, device: str):
    matvec = Matvec(system["matrix"], device)
    x = impl(matvec, system["b"].to(device), iters, residual_tol)
    return as_cpu_tensor(x, "conjugate_gradient"), matvec


def _assert_h_error_at_most(x, system: dict, bound: float, what: str) -> None:
    if x.shape != system["b"].shape:
        raise AssertionError(f"{what}: shape {list(x.shape)}, expected {list(system['b'].shape)}")
    if not bool(torch.isfinite(x).all()):
        raise AssertionError(f"{what}: non-finite entries {x.tolist()}")
    error = _h_norm(system["matrix"], x - system["solution"])
    reference = _h_norm(system["matrix"], system["solution"])
    if error > bound * reference:
        raise AssertionError(
            f"{what}: ||x - x*||_H = {error:.3g} exceeds {bound:.3g} x ||x*||_H = "
            f"{bound * reference:.3g} (D = {system['size']}, kappa = {system['condition']:.4g})"
        )


@given(system=systems(), iters=st.integers(min_value=1, max_value=35))
def test_error_within_classical_bound(impl, device, system, iters):
    """After k iterations ||x_k - x*||_H <= 2 ((sqrt(kappa)-1)/(sqrt(kappa)+1))^k ||x*||_H."""
    x, _ = _solve(impl, system, iters, _tiny_tolerance(system["b"]), device)
    root = math.sqrt(system["condition"])
    rate = (root - 1) / (root + 1)
    bound = 2 * rate**iters + _rounding(system["condition"])
    _assert_h_error_at_most(x, system, bound, f"CG error after {iters} iterations")


@given(system=systems(conditions=st.floats(min_value=1.0, max_value=10.0)))
def test_exact_after_dimension_iterations(impl, device, system):
    """With iters = D on a well-conditioned H the answer equals torch.linalg.solve to rounding."""
    x, _ = _solve(impl, system, system["size"], _tiny_tolerance(system["b"]), device)
    _assert_h_error_at_most(
        x, system, _rounding(system["condition"]), "CG after D iterations (exact in theory)"
    )


@given(
    system=systems(
        conditions=st.floats(min_value=2.0, max_value=10.0),
        distinct=st.integers(min_value=1, max_value=3),
    )
)
def test_m_distinct_eigenvalues_take_m_iterations(impl, device, system):
    """When H has only m distinct eigenvalues, m iterations solve the system (Krylov space of m)."""
    iters = min(system["distinct"], system["size"])
    x, _ = _solve(impl, system, iters, _tiny_tolerance(system["b"]), device)
    _assert_h_error_at_most(
        x,
        system,
        _rounding(system["condition"]),
        f"CG after {iters} iterations on H with {iters} distinct eigenvalues",
    )


@given(system=systems(), iters=st.integers(min_value=1, max_value=35))
def test_calls_matvec_at_most_iters_plus_one(impl, device, system, iters):
    """matvec (with a [D] vector) is the only access to H, called at most iters + 1 times."""
    _, matvec = _solve(impl, system, iters, _tiny_tolerance(system["b"]), device)
    if matvec.calls > iters + 1:
        raise AssertionError(
            f"matvec called {matvec.calls} times with iters = {iters}; at most "
            f"iters + 1 = {iters + 1} (one per iteration, plus an optional initial residual)"
        )


@given(
    system=systems(conditions=st.floats(min_value=1.0, max_value=10.0)),
    index=st.integers(min_value=0, max_value=29),
    sign=st.sampled_from([-1.0, 1.0]),
    iters=st.integers(min_value=3, max_value=20),
)
def test_stops_once_residual_is_small(impl, device, system, index, sign, iters):
    """b an eigenvector of H: one iteration solves it, then the residual test stops CG."""
    j = index % system["size"]
    b = sign * system["eigenvectors"][:, j]  # unit norm
    eigenvalue = float(system["eigenvalues"][j])
    # Between the first residual (||b||^2 = 1) and what one iteration leaves
    # (~1e-15 in float64, ~1e-6 in float32), whether compared with r.r or ||r||.
    residual_tol = 1e-4
    matvec = Matvec(system["matrix"], device)
    x = impl(matvec, b.clone().to(device), iters, residual_tol)
    assert_close(
        x,
        b / eigenvalue,
        what="CG solution for an eigenvector right-hand side",
        scale=1.0 / eigenvalue,
    )
    if matvec.calls > 2:
        raise AssertionError(
            f"matvec called {matvec.calls} times (iters = {iters}, residual_tol = "
            f"{residual_tol}) although one iteration solves H x = b for an eigenvector b; "
            "at most 2 (one iteration, plus an optional initial residual)"
        )


@given(system=systems(), iters=st.integers(min_value=1, max_value=35))
def test_zero_rhs_gives_zero(impl, device, system, iters):
    """b = 0 (a zero policy gradient) gives x = 0, not 0 / 0 = NaN."""
    # residual_tol > 0: with 0 an implementation that stops on r.r < residual_tol
    # has no way to stop before its first 0 / 0; the contract does not fix < or <=.
    zero = torch.zeros(system["size"], dtype=torch.float64)
    x = impl(Matvec(system["matrix"], device), zero.to(device), iters, 1e-10)
    assert_close(x, zero, what="CG solution for b = 0 (residual_tol = 1e-10)")


@given(system=systems(), iters=st.integers(min_value=1, max_value=35))
def test_leaves_b_unchanged(impl, device, system, iters):
    """The right-hand side b is not modified in place."""
    b = system["b"].to(device)
    before = b.clone()
    impl(Matvec(system["matrix"], device), b, iters, _tiny_tolerance(system["b"]))
    if not torch.equal(b, before):
        raise AssertionError(
            "conjugate_gradient modified b in place (e.g. r = b without a copy, then r -= ...)"
        )
