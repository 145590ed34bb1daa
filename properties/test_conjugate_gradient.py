"""Properties of ``conjugate_gradient``: solve ``H x = b`` for SPD ``H`` given only ``v -> H v``.

Spec: Trust region. Seed: :four: TRPO / 共轭梯度.

The start is part of the contract: CG from ``x_0 = 0`` (the seed, Schulman's
modular_rl, Spinning Up, baselines). ``iters`` is below ``D`` in TRPO, and a
truncated CG's answer depends on its start: from 0, ``x_k`` is the point of the
Krylov space ``span{b, H b, ..., H^(k-1) b}`` closest to ``x*`` in the
``H``-norm, so ``b = 0`` gives exactly 0, one iteration gives
``(b.b / b.H b) b``, and ``b . x_k > 0`` (an ascent direction for TRPO) for
every ``k``. Properties that depend on the start say "from x = 0" in their
failure messages (:func:`test_first_iteration_from_zero`,
:func:`test_zero_rhs_gives_zero`, the ``x = 0`` branch of
:func:`test_residual_tol_over_its_range`, and the bounds, which are relative to
``||x_0 - x*||_H = ||x*||_H``). Accuracy demands on ``x`` come either from
``iters`` iterations from 0 (the classical bound, exactness after ``D`` or
``m`` iterations, the first iteration) with ``residual_tol`` too small to stop
anything, or from ``residual_tol`` itself: a CG that stopped on its residual
test has ``||r|| <= max(sqrt(tol), tol)``, so ``||x - x*|| <= ||H^-1|| ||r||``
(:func:`test_stops_once_residual_is_small`,
:func:`test_residual_tol_over_its_range`).

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

Inputs covered: ``D`` from 1 to 30 (dense ``H``) and from 1000 to 4096
(:class:`drlspec.properties.spd.StructuredSPD`: ``Q`` a product of Householder
reflections, products in ``O(D)``); ``kappa`` from 1 to 1000; ``iters`` from
1 to 250; ``||b||`` from 1e-6 to 1e6 with ``residual_tol`` from 0 to 1e4
times ``||b||^2``. At large ``D`` the rounding allowance was re-measured: a
float32 CG stays below 1e-4 of it after up to 250 iterations, while a CG
that silently stops after 10 or 25 iterations exceeds it 2 to 40 times.
"""

from __future__ import annotations

import math
import random

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor
from drlspec.properties.spd import StructuredSPD, condition_numbers, spd_matrix
from drlspec.properties.strategies import log_uniform

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

    def __init__(self, matrix: torch.Tensor | StructuredSPD, device: str) -> None:
        if isinstance(matrix, StructuredSPD):
            # Large D: H = Q diag Q^T in O(kD); rebuilt from its seed in a reproducer.
            size = matrix.size

            def product(vector: torch.Tensor) -> torch.Tensor:
                return matrix.matvec(vector)

            def source() -> str:
                return (
                    "(lambda v: __import__('drlspec.properties.spd', fromlist=['StructuredSPD'])."
                    f"{matrix!r}.matvec(v))"
                )

        else:
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


def _h_norm(matrix: torch.Tensor | StructuredSPD, vector: torch.Tensor) -> float:
    if isinstance(matrix, StructuredSPD):
        return math.sqrt(float(matrix.quadratic(vector)))
    return math.sqrt(max(float(vector @ matrix @ vector), 0.0))


def _call(impl, device: str, matvec: Matvec, b: torch.Tensor, iters: int, residual_tol: float):
    """``impl(matvec, b, iters, residual_tol)`` with torch's global generator seeded.

    A CG that draws its start at random (sb3-contrib: ``1e-4 * randn_like(b)``)
    then gives the same answer when hypothesis replays an example, so it fails
    with its own message rather than as "flaky". ``fork_rng`` gives the
    caller's generator state back.
    """
    devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        return impl(matvec, b, iters, residual_tol)


def _solve(impl, system: dict, iters: int, residual_tol: float, device: str):
    matvec = Matvec(system["matrix"], device)
    x = _call(impl, device, matvec, system["b"].to(device), iters, residual_tol)
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
            f"{what}: ||x - x*||_H = {error:.3g} exceeds {bound:.3g} x ||x_0 - x*||_H = "
            f"{bound * reference:.3g} with x_0 = 0, the contract's start "
            f"(D = {system['size']}, kappa = {system['condition']:.4g})"
        )


@given(system=systems(), iters=st.integers(min_value=1, max_value=35))
def test_error_within_classical_bound(impl, device, system, iters):
    """After k iterations ||x_k - x*||_H <= 2 ((sqrt(kappa)-1)/(sqrt(kappa)+1))^k ||x*||_H."""
    x, _ = _solve(impl, system, iters, _tiny_tolerance(system["b"]), device)
    root = math.sqrt(system["condition"])
    rate = (root - 1) / (root + 1)
    bound = 2 * rate**iters + _rounding(system["condition"])
    _assert_h_error_at_most(x, system, bound, f"CG error after {iters} iterations from x = 0")


@given(system=systems(conditions=st.floats(min_value=1.0, max_value=10.0)))
def test_exact_after_dimension_iterations(impl, device, system):
    """With iters = D on a well-conditioned H the answer equals torch.linalg.solve to rounding."""
    x, _ = _solve(impl, system, system["size"], _tiny_tolerance(system["b"]), device)
    _assert_h_error_at_most(
        x,
        system,
        _rounding(system["condition"]),
        "CG after D iterations from x = 0 (exact in theory)",
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
        f"CG after {iters} iterations from x = 0 on H with {iters} distinct eigenvalues",
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
    """b an eigenvector of H: one iteration solves it, then the residual test stops CG.

    ``||b|| = 1`` and ``residual_tol = 1e-4``: the first residual fails the
    test under every accepted convention (``r.r`` or ``||r||``, ``<`` or
    ``<=``), and one iteration from ``x_0 = 0`` (the contract's start: ``r_0 =
    b`` is an eigenvector) leaves a residual of rounding size, far below it.
    So at most 2 products (one iteration, plus an optional initial residual);
    from another start ``r_0`` is no eigenvector and a second one may be
    needed. The accuracy demanded is only what the residual test
    implies: a residual with ``||r|| <= max(sqrt(tol), tol) = 1e-2`` puts ``x``
    within ``||H^-1|| ||r|| = 1e-2`` of ``x*`` (the smallest eigenvalue is 1),
    plus float32 rounding (``FLOAT32_RTOL ||x*||``). Stopping before the first
    iteration (``x = 0``, error ``1 / lambda >= 0.1``) is caught.
    """
    j = index % system["size"]
    b = sign * system["eigenvectors"][:, j]  # unit norm
    eigenvalue = float(system["eigenvalues"][j])
    residual_tol = 1e-4
    matvec = Matvec(system["matrix"], device)
    x = as_cpu_tensor(
        _call(impl, device, matvec, b.clone().to(device), iters, residual_tol), CONTRACT
    )
    solution = b / eigenvalue
    smallest = float(system["eigenvalues"].min())
    allowed = math.sqrt(max(residual_tol, residual_tol**2)) / smallest
    allowed += FLOAT32_RTOL * float(solution.norm())
    if x.shape != b.shape or not bool(torch.isfinite(x).all()):
        raise AssertionError(f"CG for an eigenvector b returned {x.tolist()}")
    error = float((x - solution).norm())
    if error > allowed:
        raise AssertionError(
            f"CG with an eigenvector b (||b|| = 1, eigenvalue {eigenvalue:.4g}), iters = {iters}, "
            f"residual_tol = {residual_tol}: ||x - x*|| = {error:.3g} exceeds {allowed:.3g}, "
            "what a residual passing the test allows (||H^-1|| max(sqrt(tol), tol) + rounding)"
        )
    if matvec.calls > 2:
        raise AssertionError(
            f"matvec called {matvec.calls} times (iters = {iters}, residual_tol = "
            f"{residual_tol}) although from x = 0 (the contract's start) one iteration solves "
            "H x = b for an eigenvector b; at most 2 (one iteration, plus an optional initial "
            "residual)"
        )


@given(system=systems(conditions=st.floats(min_value=1.0, max_value=10.0)))
def test_first_iteration_from_zero(impl, device, system):
    """iters = 1 from x_0 = 0 gives the exact line minimum along b: x_1 = (b.b / b.H b) b.

    This is the start written into the contract: from any other ``x_0`` the
    first iterate is ``x_0 + (r.r / r.H r) r`` with ``r = b - H x_0``, another
    point. ``residual_tol`` is far too small to stop anything, so the accuracy
    demanded is float32 rounding of one iteration, the same allowance in the
    ``H``-norm as everywhere in this module (``4e-5 kappa``, kappa <= 10 here)
    relative to ``||x_1||_H``. ``||b||`` is 1e-3, 1 or 1e3: a start of fixed
    size (sb3-contrib's ``1e-4 * randn``) shows at the small end.
    """
    b, matrix = system["b"], system["matrix"]
    x, _ = _solve(impl, system, 1, _tiny_tolerance(b), device)
    expected = float(b @ b) / float(b @ matrix @ b) * b
    if x.shape != b.shape or not bool(torch.isfinite(x).all()):
        raise AssertionError(f"CG after 1 iteration from x = 0 returned {x.tolist()}")
    error = _h_norm(matrix, x - expected)
    allowed = _rounding(system["condition"]) * _h_norm(matrix, expected)
    if error > allowed:
        raise AssertionError(
            f"CG after 1 iteration from x = 0 (the contract's start): ||x - x_1||_H = "
            f"{error:.3g} exceeds {allowed:.3g}, where x_1 = (b.b / b.H b) b is the first "
            f"iterate from x_0 = 0 (||b|| = {float(b.norm()):.3g}, D = {system['size']}, "
            f"kappa = {system['condition']:.4g}); a CG started elsewhere gives another point"
        )


def _assert_exactly_zero(x, size: int, what: str) -> None:
    """``x == 0`` exactly: from ``x_0 = 0`` with no iteration (or zero steps) nothing rounds."""
    x = as_cpu_tensor(x, CONTRACT)
    if tuple(x.shape) != (size,):
        raise AssertionError(f"{what}: shape {list(x.shape)}, expected [{size}]")
    if not bool((x == 0).all()):
        raise AssertionError(
            f"{what}: expected x = 0 exactly (from x_0 = 0 nothing rounds; a non-zero x is what "
            f"is left of a start elsewhere), got {x.tolist()[:8]}"
        )


@given(system=systems(), iters=st.integers(min_value=1, max_value=35))
def test_zero_rhs_gives_zero(impl, device, system, iters):
    """b = 0 (a zero policy gradient) gives exactly x = 0, not 0 / 0 = NaN.

    From ``x_0 = 0`` the residual is 0 from the start: the residual test stops
    CG before any product, and what comes back is ``x_0`` itself, exactly 0
    (no rounding is involved). A CG started elsewhere returns what is left of
    its start, and TRPO's ``kkt_step`` would stretch that to a full step.
    """
    # residual_tol > 0: with 0 an implementation that stops on r.r < residual_tol
    # has no way to stop before its first 0 / 0; the contract does not fix < or <=.
    zero = torch.zeros(system["size"], dtype=torch.float64)
    x = _call(impl, device, Matvec(system["matrix"], device), zero.to(device), iters, 1e-10)
    _assert_exactly_zero(
        x, system["size"], f"CG from x = 0 for b = 0 (iters = {iters}, residual_tol = 1e-10)"
    )


@given(system=systems(), iters=st.integers(min_value=1, max_value=35))
def test_leaves_b_unchanged(impl, device, system, iters):
    """The right-hand side b is not modified in place."""
    b = system["b"].to(device)
    before = b.clone()
    _call(impl, device, Matvec(system["matrix"], device), b, iters, _tiny_tolerance(system["b"]))
    if not torch.equal(b, before):
        raise AssertionError(
            "conjugate_gradient modified b in place (e.g. r = b without a copy, then r -= ...)"
        )


def spread_log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Log-uniform from a seed: evenly spread over the decades.

    ``log_uniform`` maps hypothesis floats, which favour the ends and round
    numbers; where the interesting region is a band in the middle (here: a
    tolerance between ``||b||`` and ``||b||^2``) an even spread finds it in
    about a fifth of the examples instead of one in twenty.
    """
    low_exponent, high_exponent = math.log10(low), math.log10(high)
    return seeds.map(lambda seed: 10.0 ** random.Random(seed).uniform(low_exponent, high_exponent))


# Large D: the sizes TRPO's policies have (thousands of parameters).
large_sizes = st.integers(min_value=1000, max_value=4096)


@st.composite
def large_systems(draw: st.DrawFn) -> dict:
    """``H x = b`` at ``D`` in 1000..4096 with ``H`` a :class:`StructuredSPD`, and ``iters``.

    ``kappa`` is log-uniform in ``[100, 1000]`` and ``iters`` at least
    ``k_min``, the count after which the classical bound ``2 rate^k`` is below
    a tenth of the rounding allowance: there the bound says "solved", and an
    implementation that silently stops after 10 or 25 iterations still has an
    error 2.2 to 40 times the allowance (measured on 30 systems; a cap at 50
    is only sometimes caught), while a float32 CG stays below 1e-4 of it.
    """
    size = draw(large_sizes)
    condition = draw(log_uniform(100.0, 1000.0))
    seed = draw(seeds)
    operator = StructuredSPD(size, condition, seed)
    root = math.sqrt(condition)
    rate = (root - 1) / (root + 1)
    k_min = math.ceil(math.log(_rounding(condition) / 20) / math.log(rate))
    generator = torch.Generator().manual_seed(seed + 1)
    b = draw(log_uniform(1e-3, 1e3)) * torch.randn(size, generator=generator, dtype=torch.float64)
    return {
        "size": size,
        "condition": condition,
        "matrix": operator,
        "b": b,
        "solution": operator.solve(b),
        "iters": draw(st.integers(min_value=k_min, max_value=250)),
    }


@settings(max_examples=4, deadline=None)
@given(system=large_systems())
def test_large_systems_within_classical_bound(impl, device, system):
    """D = 1000..4096, kappa = 100..1000, up to 250 iterations: the classical bound still holds."""
    iters = system["iters"]
    x, matvec = _solve(impl, system, iters, _tiny_tolerance(system["b"]), device)
    root = math.sqrt(system["condition"])
    rate = (root - 1) / (root + 1)
    bound = 2 * rate**iters + _rounding(system["condition"])
    _assert_h_error_at_most(
        x, system, bound, f"CG error after {iters} iterations from x = 0 at large D"
    )
    if matvec.calls > iters + 1:
        raise AssertionError(f"matvec called {matvec.calls} times with iters = {iters}")


@given(
    system=systems(conditions=st.floats(min_value=1.0, max_value=10.0)),
    magnitude=st.one_of(st.sampled_from([1e-6, 1e6]), spread_log_uniform(1e-6, 1e6)),
    ratio=st.one_of(st.sampled_from([0.0, 1e-30, 1e4]), spread_log_uniform(1e-12, 1e2)),
    iters=st.integers(min_value=4, max_value=60),
)
def test_residual_tol_over_its_range(impl, device, system, magnitude, ratio, iters):
    """Any residual_tol: CG ran its iterations, or stopped with a residual the tolerance allows.

    ``b`` has norm from 1e-6 to 1e6 and ``residual_tol = ratio * ||b||^2``
    with ``ratio`` from 1e-12 to 1e2 (and 0, 1e-30, 1e4); ``kappa <= 10`` and
    ``iters >= 4``, so that the classical bound (at most 0.15) never excuses a
    CG that stopped at ``x = 0``. The tolerance is absolute and
    compared with the residual; both ``r.r <= tol`` (the reference) and
    ``||r|| <= tol`` are accepted, so a CG may stop once
    ``||r||^2 <= max(tol, tol^2)``. The result must then satisfy either the
    classical bound for ``iters`` iterations or that residual test, applied
    to the true residual ``b - H x`` with the rounding allowance carried over
    from the H-norm (``||r|| <= sqrt(kappa) * ROUNDING * ||b||``). When
    ``tol`` exceeds ``||b||^2`` and ``||b||`` by 0.1 %, every convention stops
    before the first product and returns its start, ``x_0 = 0`` exactly.

    This rejects a relative test (``r.r <= tol * b.b``, scipy's habit), which
    stops too early for ``||b|| > 1``, and one that ignores ``residual_tol``.
    """
    matrix, condition = system["matrix"], system["condition"]
    b = system["b"] / system["b"].norm().clamp_min(1e-300) * magnitude
    solution = torch.linalg.solve(matrix, b)
    residual_tol = ratio * float(b @ b)
    scaled = dict(system, b=b, solution=solution)
    x, _ = _solve(impl, scaled, iters, residual_tol, device)
    norm_b = float(b.norm())
    if residual_tol >= 1.001 * max(norm_b**2, norm_b):
        _assert_exactly_zero(
            x,
            b.shape[0],
            f"CG from x = 0 with residual_tol = {residual_tol:.3g} above ||b||^2 and ||b|| "
            f"(||b|| = {norm_b:.3g}): r_0 = b passes the residual test, no iteration runs",
        )
        return
    root = math.sqrt(condition)
    rate = (root - 1) / (root + 1)
    bound = 2 * rate**iters + _rounding(condition)
    error = _h_norm(matrix, x - solution) / max(_h_norm(matrix, solution), 1e-300)
    residual = float((b - matrix @ x).norm())
    allowed = math.sqrt(max(residual_tol, residual_tol**2)) + root * _rounding(condition) * norm_b
    if error > bound and residual > allowed:
        raise AssertionError(
            f"CG with iters = {iters}, residual_tol = {residual_tol:.3g} (||b|| = {norm_b:.3g}, "
            f"kappa = {condition:.4g}): ||x - x*||_H / ||x*||_H = {error:.3g} exceeds the bound "
            f"{bound:.3g} for {iters} iterations from x = 0 (the contract's start), and the "
            f"residual ||b - H x|| = {residual:.3g} exceeds what residual_tol allows "
            f"({allowed:.3g}): it stopped too early, or did not start from x = 0"
        )
