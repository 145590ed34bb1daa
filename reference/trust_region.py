"""TRPO's trust-region kernels: Hessian-vector products, conjugate gradient, KKT step, line search.

Seed: ``:four: TRPO`` (泰勒近似, KKT 条件推导, 共轭梯度, 矩阵 - 向量乘积的梯度表示,
线性搜索). Paper: Schulman et al. (2015), "Trust Region Policy Optimization",
section 6 and appendix C.

TRPO maximises the linearised surrogate under a quadratic model of the mean KL
(泰勒近似)::

    max_x  g^T x    subject to    0.5 * x^T H x <= delta

with ``x = theta' - theta_k``, ``g`` the surrogate's gradient and ``H`` the
Hessian of the mean KL between the old policy and the new one at
``theta' = theta_k`` (the Fisher information matrix). The pieces are kept
apart so that each can be checked on its own:

* :func:`hessian_vector_product` gives ``H v`` by double backward, never
  forming ``H`` (矩阵 - 向量乘积的梯度表示). It adds no damping.
* :func:`fisher_vector_product` is the HVP of the mean KL plus visible damping
  ``F v + damping * v``; :func:`policy_fisher_vector_product` builds that mean
  KL for a policy head of :mod:`drlspec.policies`.
* :func:`conjugate_gradient` solves ``H x = g`` from ``x_0 = 0`` given only
  ``v -> H v`` (共轭梯度).
* :func:`kkt_step` scales the direction onto the boundary of the quadratic
  trust region (KKT 条件推导).
* :func:`line_search` backtracks until the true objective improves and the
  true KL is within the bound (线性搜索).

Everything works on flat parameter vectors ``[D]``; :func:`flat_params`,
:func:`set_flat_params` and :func:`flat_grad` convert between a module's (or a
list of tensors') parameters and such a vector, in parameter order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from drlspec.checks import (
    check_floating,
    check_positive_int,
    check_same_device,
    check_scalar,
    check_shape,
)

__all__ = [
    "conjugate_gradient",
    "fisher_vector_product",
    "flat_grad",
    "flat_params",
    "hessian_vector_product",
    "kkt_step",
    "line_search",
    "policy_fisher_vector_product",
    "set_flat_params",
]

Parameters = nn.Module | Iterable[torch.Tensor]


# ---------------------------------------------------------------------------
# Entry checks local to this module
# ---------------------------------------------------------------------------


def _parameter_list(name: str, params: object) -> list[torch.Tensor]:
    """A module's parameters, or a non-empty list of floating tensors, in order."""
    if isinstance(params, nn.Module):
        tensors = list(params.parameters())
    elif isinstance(params, torch.Tensor):
        # A lone tensor would be iterated row by row: almost certainly a mistake.
        raise TypeError(f"{name} must be a module or a list of tensors, got a single tensor")
    else:
        try:
            tensors = list(params)  # type: ignore[call-overload]
        except TypeError:
            raise TypeError(
                f"{name} must be a module or a list of tensors, got {type(params).__name__}"
            ) from None
    if not tensors:
        raise ValueError(f"{name} must hold at least one tensor")
    for index, tensor in enumerate(tensors):
        check_floating(f"{name}[{index}]", tensor)
    check_same_device(**{f"{name}[{i}]": t for i, t in enumerate(tensors)})
    return tensors


def _check_callable(name: str, value: object) -> None:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")


def _check_flat(name: str, vector: object, size: int | str) -> torch.Tensor:
    check_floating(name, vector)
    check_shape(name, vector, [size])  # type: ignore[arg-type]
    return vector  # type: ignore[return-value]


def _scalar_output(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}() must return a torch.Tensor, got {type(value).__name__}")
    if value.numel() != 1:
        raise ValueError(f"{name}() must return a scalar, got shape {list(value.shape)}")
    return value.reshape(())


# ---------------------------------------------------------------------------
# Flat parameter vectors
# ---------------------------------------------------------------------------


def flat_params(params: Parameters) -> torch.Tensor:
    """The parameters concatenated in order into one detached vector ``[D]``.

    ``params``: a module (its ``parameters()``) or a list of tensors.
    """
    tensors = _parameter_list("params", params)
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def set_flat_params(params: Parameters, flat: torch.Tensor) -> None:
    """Write ``flat[D]`` back into ``params`` in place, in the order :func:`flat_params` reads.

    The copy happens outside autograd: this is an optimiser's step, not part
    of any graph.
    """
    tensors = _parameter_list("params", params)
    size = sum(t.numel() for t in tensors)
    _check_flat("flat", flat, size)
    offset = 0
    with torch.no_grad():
        for tensor in tensors:
            count = tensor.numel()
            tensor.copy_(flat[offset : offset + count].view_as(tensor))
            offset += count


def flat_grad(
    output: torch.Tensor,
    params: Parameters,
    *,
    create_graph: bool = False,
) -> torch.Tensor:
    """``d output / d params`` flattened to ``[D]``; parameters ``output`` does not use get zeros.

    ``output`` is a scalar. With ``create_graph=True`` the result is itself
    differentiable (the first half of a double backward). An ``output`` that
    does not depend on ``params`` at all (a constant) has a zero gradient.
    """
    tensors = _parameter_list("params", params)
    output = _scalar_output("output", output)
    if not output.requires_grad:
        return torch.zeros(
            sum(t.numel() for t in tensors), dtype=tensors[0].dtype, device=tensors[0].device
        )
    grads = torch.autograd.grad(output, tensors, create_graph=create_graph, allow_unused=True)
    return torch.cat(
        [
            (torch.zeros_like(t) if g is None else g).reshape(-1)
            for g, t in zip(grads, tensors, strict=True)
        ]
    )


# ---------------------------------------------------------------------------
# Curvature: H v and F v
# ---------------------------------------------------------------------------


def hessian_vector_product(
    scalar_fn: Callable[[], torch.Tensor],
    params: Parameters,
    vector: torch.Tensor,
) -> torch.Tensor:
    r"""``H v`` of the scalar ``scalar_fn()`` with respect to ``params``, by double backward.

    .. math::  H v = \nabla_\theta \left( (\nabla_\theta f)^T v \right)

    The gradient is taken with ``create_graph=True``, dotted with the constant
    ``v``, and differentiated once more: two backward passes, no ``D x D``
    matrix. ``H`` is symmetric (``f`` twice continuously differentiable), so
    this is also ``v^T H``. No damping is added here (see
    :func:`fisher_vector_product`).

    Args:
        scalar_fn: called once with no arguments; returns a scalar tensor
            computed from ``params``.
        params: a module or a list of tensors with ``requires_grad``; ``D`` is
            their total number of elements, flattened in order.
        vector: ``[D]``.

    Returns:
        ``[D]``, detached, in the dtype of the parameters. Blocks of parameters
        that enter ``f`` at most linearly (or not at all) get zeros.

    Seed: :four: TRPO / 矩阵 - 向量乘积的梯度表示 (its ``hessian_matrix_vector_product``;
    see docs/errata.md). Paper: Pearlmutter (1994), "Fast exact multiplication by
    the Hessian"; Schulman et al. (2015), appendix C.1.
    """
    _check_callable("scalar_fn", scalar_fn)
    tensors = _parameter_list("params", params)
    size = sum(t.numel() for t in tensors)
    _check_flat("vector", vector, size)
    check_same_device(params=tensors[0], vector=vector)

    gradient = flat_grad(_scalar_output("scalar_fn", scalar_fn()), tensors, create_graph=True)
    # v is a constant: detaching it keeps a caller's graph out of the second backward.
    gradient_dot_vector = gradient @ vector.detach().to(gradient.dtype)
    return flat_grad(gradient_dot_vector, tensors).detach()


def fisher_vector_product(
    mean_kl_fn: Callable[[], torch.Tensor],
    params: Parameters,
    vector: torch.Tensor,
    damping: float = 0.0,
) -> torch.Tensor:
    r"""``F v + damping * v``: the curvature TRPO's conjugate gradient multiplies by.

    .. math::
        F = \nabla^2_{\theta'} \, \mathbb{E}_s\left[D_{KL}\left(\pi_{\theta_k}(\cdot|s)
            \,\|\, \pi_{\theta'}(\cdot|s)\right)\right] \Big|_{\theta' = \theta_k}

    At ``theta' = theta_k`` the KL's gradient vanishes and its Hessian is the
    Fisher information matrix of the policy (泰勒近似: the constraint's
    first-order term is zero, so its second-order term is the model).
    ``damping > 0`` adds ``damping * I``, which keeps CG stable when ``F`` is
    singular or nearly so (a softmax policy's Fisher matrix always is: adding
    a constant to all logits changes nothing).

    Args:
        mean_kl_fn: called once with no arguments; returns the mean over
            states of ``KL(old || current)``, with the old policy's outputs
            detached (frozen) and the current ones computed from ``params``.
            ``params`` must hold the old policy's values when this is called.
        params: the current policy's parameters (a module or list of tensors).
        vector: ``[D]``.
        damping: ``>= 0``.

    Returns:
        ``[D]``, detached.

    Seed: :four: TRPO / 泰勒近似, 矩阵 - 向量乘积的梯度表示 (the seed adds no damping).
    Paper: Schulman et al. (2015), appendix C.1.
    """
    damping = check_scalar(
        "damping", damping, low=0.0, rule="non-negative", finite_rule="finite", show_float=True
    )
    fisher_vector = hessian_vector_product(mean_kl_fn, params, vector)
    return fisher_vector + damping * vector.detach().to(fisher_vector.dtype)


def policy_fisher_vector_product(
    policy: nn.Module,
    observations: torch.Tensor,
    vector: torch.Tensor,
    damping: float = 0.0,
) -> torch.Tensor:
    r"""``F v + damping * v`` for a policy head at its current parameters.

    The old policy is the current one, frozen: ``policy.frozen_outputs``
    gives its detached distribution parameters, and ``policy.kl`` the
    per-state ``KL(old || current)`` with graph (the interface of
    :class:`drlspec.policies.CategoricalPolicy` and
    :class:`drlspec.policies.GaussianPolicy`). ``F`` is the Hessian of the
    mean of that KL over ``observations``, w.r.t. ``policy.parameters()`` in
    order; see :func:`fisher_vector_product`.

    Args:
        policy: a policy head with ``frozen_outputs(obs)`` and ``kl(obs, old)``.
        observations: ``[B, obs_dim]`` states the KL is averaged over.
        vector: ``[D]``, ``D`` the policy's parameter count.
        damping: ``>= 0``.

    Returns:
        ``[D]``, detached.

    Seed: :four: TRPO / 矩阵 - 向量乘积的梯度表示 (``hessian_matrix_vector_product``).
    """
    for method in ("frozen_outputs", "kl"):
        if not callable(getattr(policy, method, None)):
            raise TypeError(f"policy must have a {method}() method, got {type(policy).__name__}")
    old_outputs = policy.frozen_outputs(observations)
    return fisher_vector_product(
        lambda: policy.kl(observations, old_outputs).mean(), policy, vector, damping
    )


# ---------------------------------------------------------------------------
# Solving H x = g, and scaling onto the trust region
# ---------------------------------------------------------------------------


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    iters: int,
    residual_tol: float,
) -> torch.Tensor:
    r"""Approximately solve ``H x = b`` for symmetric positive definite ``H``, given ``v -> H v``.

    Conjugate gradient from ``x_0 = 0`` (so ``r_0 = b``, ``p_0 = r_0``); for
    ``k = 0, 1, ...``:

    .. math::
        \alpha_k = \frac{r_k^T r_k}{p_k^T H p_k}, \quad
        x_{k+1} = x_k + \alpha_k p_k, \quad
        r_{k+1} = r_k - \alpha_k H p_k, \quad
        \beta_k = \frac{r_{k+1}^T r_{k+1}}{r_k^T r_k}, \quad
        p_{k+1} = r_{k+1} + \beta_k p_k

    It stops after ``iters`` products ``H p`` or as soon as
    ``r_k^T r_k <= residual_tol`` (the squared residual norm, as in the seed),
    whichever comes first. The test is made before each product, so ``b = 0``
    returns ``0`` without calling ``matvec``, and an exactly solved system
    stops even when ``residual_tol = 0`` (where the next ``alpha`` would be
    ``0 / 0``). The test is absolute: with the seed's ``1e-10``, a gradient of
    norm below ``1e-5`` (late in training) already counts as solved by
    ``x = 0``; pass ``residual_tol`` relative to ``b . b`` (e.g.
    ``1e-10 * float(b @ b)``) for a scale-free test. In exact arithmetic
    ``x_D`` solves the system; with ``k`` iterations the error obeys
    ``||x_k - x*||_H <= 2 ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^k ||x*||_H``.

    The start ``x_0 = 0`` is part of the contract (docs/contracts.md), not
    only this implementation's choice: TRPO runs fewer than ``D`` iterations,
    and from 0 ``x_k`` is the ``H``-norm-closest point to ``x*`` in
    ``span{b, H b, ..., H^(k-1) b}``, so ``b = 0`` gives exactly 0 and
    ``b . x_k > 0`` (an ascent direction) for every ``k``. A random start
    (sb3-contrib's ``1e-4 * randn_like(b)``) loses both when ``b`` is small.
    Other implementations may test ``||r||`` instead of ``r^T r`` and ``<``
    instead of ``<=``; the contract accepts all four.

    Args:
        matvec: ``v[D] -> (H v)[D]``; called at most ``iters`` times (the
            contract allows ``iters + 1``: one product for ``b - H x_0``).
        b: ``[D]`` right-hand side (TRPO's surrogate gradient ``g``).
        iters: maximum number of iterations, ``>= 1``.
        residual_tol: ``>= 0``, compared with the squared residual norm.

    Returns:
        ``[D]`` approximate ``H^{-1} b``.

    Raises:
        ValueError: if ``p^T H p <= 0`` for a search direction, i.e. ``matvec``
            is not positive definite.

    Seed: :four: TRPO / 共轭梯度 (its ``conjugate_gradient``: 10 iterations,
    ``r^T r < 1e-10``). Paper: Hestenes & Stiefel (1952); Nocedal & Wright (2006),
    Algorithm 5.2 and Theorem 5.5.
    """
    _check_callable("matvec", matvec)
    _check_flat("b", b, "D")
    iters = check_positive_int("iters", iters)
    residual_tol = check_scalar(
        "residual_tol",
        residual_tol,
        low=0.0,
        rule="non-negative",
        finite_rule="finite",
        show_float=True,
    )

    solution = torch.zeros_like(b)
    residual = b.clone()  # r_0 = b - H x_0 with x_0 = 0: no product needed
    direction = residual.clone()
    residual_norm2 = residual @ residual
    for _ in range(iters):
        if residual_norm2 <= residual_tol:
            break
        h_direction = matvec(direction)
        _check_flat("matvec(p)", h_direction, b.shape[0])
        curvature = direction @ h_direction
        if not curvature > 0:
            raise ValueError(
                f"matvec is not positive definite: p^T H p = {float(curvature):.3g} "
                "for a conjugate-gradient search direction p"
            )
        step_size = residual_norm2 / curvature
        solution = solution + step_size * direction
        residual = residual - step_size * h_direction
        new_residual_norm2 = residual @ residual
        direction = residual + (new_residual_norm2 / residual_norm2) * direction
        residual_norm2 = new_residual_norm2
    return solution


def _check_max_kl(max_kl: object) -> float:
    """The trust region's radius: a finite number > 0 (kkt_step and line_search)."""
    return check_scalar(
        "max_kl", max_kl, low=0.0, strict=True, rule="positive", finite_rule="finite",
        show_float=True,
    )  # fmt: skip


def kkt_step(
    direction: torch.Tensor,
    h_direction: torch.Tensor,
    max_kl: float,
) -> torch.Tensor:
    r"""Scale ``direction`` onto the boundary of the trust region ``0.5 s^T H s <= max_kl``.

    .. math::  s = \sqrt{\frac{2\,\delta}{x^T H x}} \; x

    With ``x = H^{-1} g`` this is the KKT solution of
    ``max_s g^T s  s.t.  0.5 s^T H s <= delta``: stationarity gives
    ``s = H^{-1} g / lambda``, and since ``lambda > 0`` complementary slackness
    puts ``s`` on the boundary, ``0.5 s^T H s = delta``.

    Args:
        direction: ``[D]`` search direction ``x`` (CG's approximate ``H^{-1} g``).
        h_direction: ``[D]`` ``H x``.
        max_kl: the trust-region size ``delta > 0``.

    Returns:
        ``[D]`` the step ``s``, a positive multiple of ``direction``.

    Raises:
        ValueError: if ``x^T H x <= 0`` (a zero direction, or ``H`` not
            positive definite along it): no finite step reaches the boundary.

    Seed: :four: TRPO / KKT 条件推导 and 共轭梯度 (step 2, ``beta``). The seed's code
    adds ``1e-8`` to ``x^T H x``; the reference does not (docs/errata.md).
    Paper: Schulman et al. (2015), appendix C.
    """
    _check_flat("direction", direction, "D")
    _check_flat("h_direction", h_direction, direction.shape[0])
    check_same_device(direction=direction, h_direction=h_direction)
    max_kl = _check_max_kl(max_kl)

    curvature = direction @ h_direction.to(direction.dtype)
    if not curvature > 0:
        raise ValueError(
            f"direction . h_direction must be positive, got {float(curvature):.3g} "
            "(a zero direction, or H not positive definite along it)"
        )
    return torch.sqrt(2.0 * max_kl / curvature) * direction


# ---------------------------------------------------------------------------
# Backtracking on the true objective and the true KL
# ---------------------------------------------------------------------------


def line_search(
    objective: Callable[[torch.Tensor], torch.Tensor | float],
    kl: Callable[[torch.Tensor], torch.Tensor | float],
    params: torch.Tensor,
    full_step: torch.Tensor,
    max_kl: float,
    backtrack: float,
    max_backtracks: int,
) -> torch.Tensor:
    r"""The first backtracked step that improves the objective and keeps the KL within bound.

    Tries, for ``i = 0, 1, ..., max_backtracks - 1`` in this order,

    .. math::  \theta_i = \theta + \alpha^i \, s

    and returns the first ``theta_i`` with

    .. math::
        \text{objective}(\theta_i) > \text{objective}(\theta)
        \quad\text{and}\quad \text{kl}(\theta_i) \le \delta

    (strict improvement, non-strict KL bound). If none qualifies, returns
    ``theta`` unchanged. The quadratic model behind ``s`` is only accurate
    near ``theta``; checking the true objective and KL is what makes the
    update safe.

    The contract accepts ``kl < delta`` as well (the seed, sb3-contrib's
    ``TRPO.train``): the two differ only at a KL of exactly ``delta``. NaN
    from either callable compares false: a candidate with a NaN objective or
    KL is skipped, and a NaN ``objective(theta)`` keeps ``theta``.

    Args:
        objective: ``theta[D] -> scalar``, the surrogate to be maximised.
        kl: ``theta[D] -> scalar``, the mean KL between the old policy and
            the policy with parameters ``theta``.
        params: ``[D]`` current parameters ``theta`` (not modified).
        full_step: ``[D]`` the KKT step ``s`` (not modified).
        max_kl: ``delta > 0``.
        backtrack: ``alpha`` in ``(0, 1)``.
        max_backtracks: number of candidates, ``>= 1``.

    Returns:
        ``[D]`` new parameters (a fresh tensor, also when equal to ``params``).

    Seed: :four: TRPO / 线性搜索 (the seed checks ``kl < delta`` strictly, which
    the contract accepts, and deep-copies the actor for each trial; see
    docs/errata.md T5, T6). Paper: Schulman
    et al. (2015), appendix C.
    """
    _check_callable("objective", objective)
    _check_callable("kl", kl)
    _check_flat("params", params, "D")
    _check_flat("full_step", full_step, params.shape[0])
    check_same_device(params=params, full_step=full_step)
    max_kl = _check_max_kl(max_kl)
    backtrack = check_scalar(
        "backtrack",
        backtrack,
        low=0.0,
        high=1.0,
        strict=True,
        rule="in (0, 1)",
        finite_rule="finite",
        show_float=True,
    )
    max_backtracks = check_positive_int("max_backtracks", max_backtracks)

    old_objective = objective(params.clone())
    for i in range(max_backtracks):
        candidate = params + backtrack**i * full_step.to(params.dtype)
        if bool(kl(candidate) <= max_kl) and bool(objective(candidate) > old_objective):
            return candidate
    return params.clone()
