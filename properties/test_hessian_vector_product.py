"""Properties of ``hessian_vector_product``: ``H v`` of ``scalar_fn()`` w.r.t. a list of tensors.

Spec: Trust region. Seed: :four: TRPO / 矩阵 - 向量乘积的梯度表示.

The functions are generated as Python source (so that a reproducer can print
them): a quadratic form, a linear term, smooth ridge terms
``c * phi(w . theta + a)`` with ``phi`` in sin, tanh, softplus and a Gaussian
bump, cubic monomials that couple entries of different tensors, and
``sum(tanh(W @ x))`` for matrix-shaped parameters. ``theta`` is the
concatenation of the flattened parameter tensors, in order.

The oracle is the explicit Hessian, ``torch.autograd.functional.hessian`` of
the same function of one flat vector, times ``v``, in float64; for a pure
quadratic it is the matrix itself. Tolerance: float32 accuracy
(``FLOAT32_RTOL``) relative to ``max_i sum_j |H_ij| |v_j|``, the size of the
terms each entry of ``H v`` is summed from: two backward passes over
functions of at most a few dozen operations stay well within it.

:class:`StructuredFunction` goes further: ``D`` up to 4096 in six tensors of
different shapes (a matrix, a 3-D tensor, a vector, a scalar, one entering
only linearly, one unused), kinks (``abs``, ``relu``) placed 1e-12 to 1e-3
along ``v`` from the point and ``1e-8 sin(1e5 theta)`` terms, with ``H v``
in closed form (float64) as the oracle. A finite difference of gradients
fails there, forward or central; exact double backward does not. Unused
tensors (gradient ``None``) and linear-only ones get zero rows of ``H v``.
"""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from drlspec.properties.assertions import as_cpu_tensor, assert_close

CONTRACT = "hessian_vector_product"

seeds = st.integers(min_value=0, max_value=2**32 - 1)
# Scalars, vectors and matrices, every size from 1.
tensor_shapes = st.lists(st.integers(min_value=1, max_value=3), min_size=0, max_size=2).map(tuple)
shape_lists = st.lists(tensor_shapes, min_size=1, max_size=3)

_RIDGES = {
    "sin": "torch.sin({z})",
    "tanh": "torch.tanh({z})",
    "softplus": "torch.nn.functional.softplus({z})",
    "bump": "torch.exp(-0.5 * ({z}) ** 2)",
}


def _literal(values: torch.Tensor) -> str:
    """Source for ``values`` rounded to 3 decimals (short reproducers; the source is the truth)."""
    rounded = torch.tensor([round(v, 3) for v in values.reshape(-1).tolist()], dtype=torch.float64)
    data = repr(rounded.reshape(values.shape).tolist())
    return f"torch.tensor({data}, dtype=torch.float64, device=params[0].device)"


class ParamList(list):
    """The parameter tensors; prints itself in a reproducer as ``(params := [...])``.

    The walrus binds the name ``params`` that the printed ``scalar_fn``
    refers to, and rebinds it for the reference's call, so that the function
    always reads the tensors being differentiated.
    """

    def __drlspec_repro__(self) -> str:
        items = []
        for tensor in self:
            device = "" if tensor.device.type == "cpu" else f", device={str(tensor.device)!r}"
            items.append(
                f"torch.tensor({tensor.detach().cpu().tolist()!r}, dtype=torch.float64"
                f"{device}, requires_grad=True)"
            )
        return "(params := [" + ", ".join(items) + "])"


class ScalarFunction:
    """``scalar_fn``: a generated smooth function of ``params``, called with no arguments."""

    def __init__(self, source: str, params: list[torch.Tensor]) -> None:
        self.source = source
        self.function = eval("lambda params: " + source, {"torch": torch})
        self.params = params
        self.calls = 0

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        return self.function(self.params)

    def __drlspec_repro__(self) -> str:
        return f"(lambda: {self.source})"

    def __repr__(self) -> str:
        return f"ScalarFunction({self.source[:60]}...)"


@st.composite
def problems(draw: st.DrawFn, linear_extras: bool = False) -> dict:
    """Shapes, values, a smooth function's source and a vector ``v``.

    With ``linear_extras`` two tensors are appended: one that enters the
    function only linearly, one it never uses; and sometimes the whole
    function is linear.
    """
    shapes = draw(shape_lists)
    seed = draw(seeds)
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=torch.float64)

    sizes = [int(torch.Size(s).numel()) for s in shapes]
    size = sum(sizes)
    all_linear = linear_extras and draw(st.booleans())
    terms = []
    if not all_linear:
        a = randn(size, size)
        terms.append(f"0.5 * theta @ {_literal(a + a.T)} @ theta")
        for name in draw(st.lists(st.sampled_from(sorted(_RIDGES)), min_size=1, max_size=3)):
            z = f"{_literal(randn(size))} @ theta + {round(float(randn(1)), 3)}"
            terms.append(f"{round(float(randn(1)), 3)} * " + _RIDGES[name].format(z=z))
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            i, j, k = torch.randint(size, (3,), generator=generator).tolist()
            terms.append(f"{round(float(randn(1)), 3)} * theta[{i}] * theta[{j}] * theta[{k}]")
        for index, shape in enumerate(shapes):
            if len(shape) == 2:
                x = randn(shape[1])
                terms.append(f"torch.tanh(params[{index}] @ {_literal(x)}).sum()")
    terms.append(f"{_literal(randn(size))} @ theta")
    flat = "torch.cat([p.reshape(-1) for p in params[:" + str(len(shapes)) + "]])"
    source = f"(lambda theta: {' + '.join(terms)})({flat})"
    if linear_extras:
        extra = draw(tensor_shapes)
        unused = draw(tensor_shapes)
        extra_size = int(torch.Size(extra).numel())
        source += f" + {_literal(randn(extra_size))} @ params[{len(shapes)}].reshape(-1)"
        shapes = [*shapes, extra, unused]
    values = [0.5 * randn(*shape) for shape in shapes]
    total = sum(int(v.numel()) for v in values)
    return {
        "shapes": shapes,
        "values": values,
        "source": source,
        "vector": draw(st.sampled_from([1e-2, 1.0, 1e2])) * randn(total),
    }


def _fresh(problem: dict, device: str) -> tuple[ScalarFunction, ParamList]:
    params = ParamList(v.clone().to(device).requires_grad_(True) for v in problem["values"])
    return ScalarFunction(problem["source"], params), params


def explicit_hessian(problem: dict) -> torch.Tensor:
    """The full ``D x D`` Hessian of the same function of one flat vector, on the CPU."""
    function = eval("lambda params: " + problem["source"], {"torch": torch})
    sizes = [int(v.numel()) for v in problem["values"]]

    def of_flat(flat: torch.Tensor) -> torch.Tensor:
        pieces = flat.split(sizes)
        values = problem["values"]
        return function([p.reshape(v.shape) for p, v in zip(pieces, values, strict=True)])

    flat0 = torch.cat([v.reshape(-1) for v in problem["values"]])
    return torch.autograd.functional.hessian(of_flat, flat0)


def _hvp(impl, problem: dict, vector: torch.Tensor, device: str) -> torch.Tensor:
    scalar_fn, params = _fresh(problem, device)
    return as_cpu_tensor(impl(scalar_fn, params, vector.to(device)), "hessian_vector_product")


def _scale(hessian: torch.Tensor, vector: torch.Tensor) -> float:
    return float((hessian.abs() @ vector.abs()).max())


@given(problem=problems())
def test_matches_explicit_hessian(impl, device, problem):
    """Equals the explicit Hessian (torch.autograd.functional.hessian) times v."""
    hessian = explicit_hessian(problem)
    scalar_fn, params = _fresh(problem, device)
    result = impl(scalar_fn, params, problem["vector"].to(device))
    assert_close(
        result,
        hessian @ problem["vector"],
        what="H v",
        scale=_scale(hessian, problem["vector"]),
    )
    for index, (param, value) in enumerate(zip(params, problem["values"], strict=True)):
        if not torch.equal(param.detach().cpu(), value):
            raise AssertionError(f"hessian_vector_product changed the values of params[{index}]")


@given(
    size=st.integers(min_value=1, max_value=12),
    split=st.integers(min_value=0, max_value=12),
    seed=seeds,
)
def test_quadratic_gives_matrix_times_vector(impl, device, size, split, seed):
    """For f = 0.5 theta^T A theta + b^T theta + c (A symmetric) the result is A v, at any theta."""
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(size, size, generator=generator, dtype=torch.float64)
    a = a + a.T
    b = torch.randn(size, generator=generator, dtype=torch.float64)
    theta = 3 * torch.randn(size, generator=generator, dtype=torch.float64)
    vector = torch.randn(size, generator=generator, dtype=torch.float64)
    # One tensor or two, split at an arbitrary place: the flattening order matters.
    cut = split % (size + 1)
    pieces = [p for p in (theta[:cut], theta[cut:]) if p.numel() > 0]
    params = ParamList(p.clone().to(device).requires_grad_(True) for p in pieces)
    source = (
        f"(lambda theta: 0.5 * theta @ {_literal(a)} @ theta + {_literal(b)} @ theta + 1.5)"
        "(torch.cat([p.reshape(-1) for p in params]))"
    )
    exact_a = torch.tensor([[round(v, 3) for v in row] for row in a.tolist()], dtype=torch.float64)
    result = impl(ScalarFunction(source, params), params, vector.to(device))
    assert_close(result, exact_a @ vector, what="H v of a quadratic", scale=_scale(exact_a, vector))


@given(
    problem=problems(),
    alpha=st.floats(min_value=-3.0, max_value=3.0),
    beta=st.floats(min_value=-3.0, max_value=3.0),
    seed=seeds,
)
def test_linear_in_vector(impl, device, problem, alpha, beta, seed):
    """H (alpha u + beta w) = alpha H u + beta H w."""
    u = problem["vector"]
    w = torch.randn(u.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    combined = _hvp(impl, problem, alpha * u + beta * w, device)
    separate = alpha * _hvp(impl, problem, u, device) + beta * _hvp(impl, problem, w, device)
    hessian = explicit_hessian(problem)
    assert_close(
        combined,
        separate,
        what="H (alpha u + beta w) against alpha H u + beta H w",
        scale=_scale(hessian, abs(alpha) * u.abs() + abs(beta) * w.abs()),
    )


@given(problem=problems(linear_extras=True))
def test_linear_and_unused_parameters(impl, device, problem):
    """Tensors entering f only linearly, or not at all, get zero rows; a linear f has H v = 0."""
    hessian = explicit_hessian(problem)
    result = _hvp(impl, problem, problem["vector"], device)
    assert_close(
        result,
        hessian @ problem["vector"],
        what="H v with a linear-only and an unused parameter tensor",
        scale=_scale(hessian, problem["vector"]),
    )


# ---------------------------------------------------------------------------
# Large D, non-smooth terms near the point, unused tensors: an analytic oracle
# ---------------------------------------------------------------------------

# What each parameter tensor does in a StructuredFunction.
ROLES = ("smooth", "matrix", "linear", "unused")
KINK_DISTANCES = (1e-12, 1e-3)  # from theta along v, in units of v: where a finite difference trips
HIGH_FREQUENCY = (1e-8, 1e5)  # A sin(omega theta): |f''| = A omega^2 = 100, |f'''| = 1e7


class StructuredFunction:
    r"""``scalar_fn`` of several tensors whose ``H v`` is known in closed form, at any ``D``.

    With ``theta`` the concatenation of the *used* tensors (smooth and
    matrix roles, in ``params`` order),

    .. math::
        f = \sum_i d_i \cos\theta_i + \sum_k a_k \sin(w_k \cdot \theta + b_k)
            + \sum_{W} \sum_r \tanh(W_r \cdot x_W) + g \cdot \theta_L
            + \sum_{j \in J} c_j |\theta_j - \kappa_j|
            + \sum_{j \in J'} c'_j \,\mathrm{relu}(\pm(\theta_j - \kappa'_j))
            + A \sum_{j \in J''} \sin(\omega \theta_j)

    ``theta_L`` the linear-only tensors; unused tensors never enter ``f``
    (their gradient is ``None``), so their rows of ``H v`` are zero, as are
    the linear-only ones'. The kinks ``kappa_j = theta_j + t_j v_j`` sit
    ``t_j`` (log-uniform in ``KINK_DISTANCES``) along ``v`` from the point:
    ``f`` is smooth at ``theta`` and they add nothing to ``H``, but any finite
    difference ``(grad f(theta + eps v) - grad f(theta)) / eps`` (or a central
    one) with ``eps > t_j`` jumps across one and is off by about
    ``2 c_j / eps``. The high-frequency term has ``|f''| = A omega^2 = 100``
    and ``|f'''| = 1e7``: exact differentiation gets it, a finite difference
    errs by ``eps |f'''| / 2`` (forward) relative to it.

    The oracle :meth:`hvp` evaluates those second derivatives term by term in
    float64; :meth:`scale` is ``max_i sum_j |H_ij| |v_j|`` bounded term by term,
    the size of what each entry of ``H v`` is summed from.
    """

    def __init__(self, shapes, roles, seed: int, vector: torch.Tensor, ridges: int = 2) -> None:
        self.shapes = [tuple(s) for s in shapes]
        self.roles = list(roles)
        self.seed = seed
        self.ridges = ridges
        self.vector = vector.detach().to("cpu", torch.float64)
        generator = torch.Generator().manual_seed(seed)

        def randn(*shape: int) -> torch.Tensor:
            return torch.randn(shape, generator=generator, dtype=torch.float64)

        self.values = [0.7 * randn(*shape) for shape in self.shapes]
        sizes = [int(torch.Size(s).numel()) for s in self.shapes]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        self.sizes = sizes
        self.used = [i for i, r in enumerate(self.roles) if r in ("smooth", "matrix")]
        self.used_size = sum(sizes[i] for i in self.used)
        n = self.used_size
        self.cos_weights = randn(n)
        self.ridge_weights = randn(ridges, n) / max(n, 1) ** 0.5
        self.ridge_offsets = randn(ridges)
        self.ridge_scales = randn(ridges)
        self.matrix_inputs = {
            i: randn(self.shapes[i][1]) for i, r in enumerate(self.roles) if r == "matrix"
        }
        self.linear_weights = {
            i: randn(sizes[i]) for i, r in enumerate(self.roles) if r == "linear"
        }
        # Kinks and high-frequency terms on entries of the smooth tensors (used-theta indices).
        smooth = [
            self._used_index(i) + k
            for i, r in enumerate(self.roles)
            if r == "smooth"
            for k in range(sizes[i])
        ]
        pick = torch.randperm(len(smooth), generator=generator).tolist() if smooth else []
        chosen = [smooth[p] for p in pick[:24]]
        self.kinks, self.relus, self.waves = chosen[0:8], chosen[8:16], chosen[16:24]
        theta = self._theta(self.values)
        v_used = self._used(self.vector)
        low, high = (math.log10(x) for x in KINK_DISTANCES)

        def kink_points(indices: list[int]) -> torch.Tensor:
            t = 10.0 ** (low + (high - low) * torch.rand(len(indices), generator=generator))
            t = t.to(torch.float64)
            # Where v_j is 0 the kink would sit on the point itself: put it at t_j instead.
            step = torch.where(v_used[indices] != 0, v_used[indices], torch.ones(len(indices)))
            return theta[indices] + t * step.to(torch.float64)

        self.kink_points = kink_points(self.kinks)
        self.kink_weights = randn(len(self.kinks))
        self.relu_points = kink_points(self.relus)
        self.relu_signs = torch.sign(randn(len(self.relus)))
        self.relu_weights = randn(len(self.relus))
        self.params: list[torch.Tensor] | None = None

    # -- the function --------------------------------------------------------

    def _used_index(self, tensor_index: int) -> int:
        return sum(self.sizes[i] for i in self.used if i < tensor_index)

    def _theta(self, tensors) -> torch.Tensor:
        return torch.cat([tensors[i].reshape(-1) for i in self.used])

    def _used(self, flat: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [flat[self.offsets[i] : self.offsets[i] + self.sizes[i]] for i in self.used]
        )

    def value(self, params) -> torch.Tensor:
        """``f(params)``, differentiable; reads only the used and linear tensors."""
        like = params[self.used[0]]

        def const(t: torch.Tensor) -> torch.Tensor:
            return t.to(like.device, like.dtype)

        theta = self._theta(params)
        total = (const(self.cos_weights) * torch.cos(theta)).sum()
        z = const(self.ridge_weights) @ theta + const(self.ridge_offsets)
        total = total + (const(self.ridge_scales) * torch.sin(z)).sum()
        for i, x in self.matrix_inputs.items():
            total = total + torch.tanh(params[i] @ const(x)).sum()
        for i, g in self.linear_weights.items():
            total = total + const(g) @ params[i].reshape(-1)
        if self.kinks:
            total = (
                total
                + (
                    const(self.kink_weights) * (theta[self.kinks] - const(self.kink_points)).abs()
                ).sum()
            )
        if self.relus:
            shifted = const(self.relu_signs) * (theta[self.relus] - const(self.relu_points))
            total = total + (const(self.relu_weights) * torch.relu(shifted)).sum()
        if self.waves:
            amplitude, omega = HIGH_FREQUENCY
            total = total + amplitude * torch.sin(omega * theta[self.waves]).sum()
        return total

    def __call__(self) -> torch.Tensor:
        return self.value(self.params)

    def bind(self, params: list[torch.Tensor]) -> StructuredFunction:
        self.params = params
        return self

    # -- the oracle ----------------------------------------------------------

    def _terms(self, v: torch.Tensor, absolute: bool) -> torch.Tensor:
        """``H v`` (or the bound ``|H| |v|`` with ``absolute``) in float64, in params order."""
        op = torch.abs if absolute else (lambda t: t)
        theta = self._theta(self.values)
        v_used = self._used(v)
        if absolute:
            v_used = v_used.abs()
        out = op(-self.cos_weights * torch.cos(theta)) * v_used
        z = self.ridge_weights @ theta + self.ridge_offsets
        curvature = op(-self.ridge_scales * torch.sin(z))
        out = out + (curvature * (op(self.ridge_weights) @ v_used)) @ op(self.ridge_weights)
        if self.waves:
            amplitude, omega = HIGH_FREQUENCY
            second = -amplitude * omega**2 * torch.sin(omega * theta[self.waves])
            out[self.waves] += op(second) * v_used[self.waves]
        result = torch.zeros_like(v)
        for i in self.used:
            start = self._used_index(i)
            result[self.offsets[i] : self.offsets[i] + self.sizes[i]] = out[
                start : start + self.sizes[i]
            ]
        for i, x in self.matrix_inputs.items():
            w = self.values[i]
            block = v[self.offsets[i] : self.offsets[i] + self.sizes[i]].reshape(w.shape)
            t = torch.tanh(w @ x)
            second = op(-2.0 * t * (1.0 - t * t))  # tanh''
            xs = op(x)
            contribution = (second * (op(block) @ xs))[:, None] * xs[None, :]
            result[self.offsets[i] : self.offsets[i] + self.sizes[i]] += contribution.reshape(-1)
        return result

    def hvp(self, v: torch.Tensor) -> torch.Tensor:
        return self._terms(v.to(torch.float64), absolute=False)

    def scale(self, v: torch.Tensor) -> float:
        return float(self._terms(v.to(torch.float64), absolute=True).max())

    def __drlspec_repro__(self) -> str:
        return (
            "(lambda: __import__('drlspec.properties.test_hessian_vector_product', fromlist=['_'])"
            f".StructuredFunction({self.shapes!r}, {self.roles!r}, {self.seed}, "
            f"{_vector_literal(self.vector)}, {self.ridges}).value(params))"
        )

    def __repr__(self) -> str:
        return f"StructuredFunction(shapes={self.shapes}, roles={self.roles}, seed={self.seed})"


def _vector_literal(vector: torch.Tensor) -> str:
    return f"torch.tensor({vector.tolist()!r}, dtype=torch.float64)"


@st.composite
def structured_problems(draw: st.DrawFn, large: bool) -> StructuredFunction:
    """Tensors of different shapes and roles in a random order, a vector ``v``, the function.

    ``large``: ``D`` from 1000 to 4096 (a matrix, a 3-D tensor, a
    vector, a scalar, a linear-only and an unused tensor); otherwise 2 to 5
    small tensors (``D`` up to about 60), at least one of them smooth.
    """
    if large:
        rows, cols = draw(st.integers(8, 32)), draw(st.integers(8, 32))
        cube = tuple(draw(st.integers(2, 8)) for _ in range(3))
        length = draw(st.integers(1000, 2500))
        shapes = [(rows, cols), cube, (length,), (), (draw(st.integers(1, 50)),), (3, 2)]
        roles = ["matrix", "smooth", "smooth", "smooth", "linear", "unused"]
    else:
        count = draw(st.integers(min_value=1, max_value=4))
        shapes = [draw(tensor_shapes) for _ in range(count)]
        roles = ["matrix" if len(s) == 2 and draw(st.booleans()) else "smooth" for s in shapes]
        extra = draw(st.lists(st.sampled_from(("linear", "unused")), max_size=2))
        shapes += [draw(tensor_shapes) for _ in extra]
        roles += extra
    order = draw(st.permutations(range(len(shapes))))
    shapes = [shapes[i] for i in order]
    roles = [roles[i] for i in order]
    if "smooth" not in roles:
        roles[0], shapes[0] = "smooth", (4,)
    seed = draw(seeds)
    total = sum(int(torch.Size(s).numel()) for s in shapes)
    generator = torch.Generator().manual_seed(seed + 1)
    magnitude = draw(st.sampled_from([1e-2, 1.0, 1e2]))
    vector = magnitude * torch.randn(total, generator=generator, dtype=torch.float64)
    return StructuredFunction(shapes, roles, seed, vector)


def _check_structured(impl, device: str, function: StructuredFunction, what: str) -> None:
    params = ParamList(v.clone().to(device).requires_grad_(True) for v in function.values)
    function.bind(params)
    result = impl(function, params, function.vector.to(device))
    assert_close(
        result,
        function.hvp(function.vector),
        what=f"{what} (shapes {function.shapes}, roles {function.roles})",
        scale=function.scale(function.vector),
    )
    for index, (param, value) in enumerate(zip(params, function.values, strict=True)):
        if not torch.equal(param.detach().cpu(), value):
            raise AssertionError(f"hessian_vector_product changed the values of params[{index}]")


@given(function=structured_problems(large=False))
def test_exact_near_kinks_and_fast_oscillations(impl, device, function):
    """Kinks a hair from theta along v and sin(1e5 theta) terms: H v is the exact second derivative.

    A finite difference of gradients, forward or central, steps across a kink
    (any step between 1e-12 and 1e-3 along v does) or misses the curvature of
    the oscillation; exact double backward does neither. Unused tensors get
    zero rows, linear-only ones too.
    """
    _check_structured(impl, device, function, "H v near kinks and oscillations")


@settings(max_examples=4, deadline=None)
@given(function=structured_problems(large=True))
def test_large_dimension_several_tensors(impl, device, function):
    """D = 1000..4096 in six tensors of different shapes (one unused, one linear): H v in order."""
    _check_structured(impl, device, function, "H v at large D")
