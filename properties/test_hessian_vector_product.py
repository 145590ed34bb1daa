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
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import as_cpu_tensor, assert_close

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
