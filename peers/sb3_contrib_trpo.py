"""sb3-contrib's TRPO kernels (sb3-contrib 2.9.2) as the trust-region contracts.

Two of the four are functions, called unchanged; two are inline in
``TRPO.train`` and transcribed here line by line:

* ``conjugate_gradient``: ``sb3_contrib.common.utils.conjugate_gradient_solver``,
  called as it is. TRPO calls it without ``residual_tol`` (default ``1e-10``);
  the adapter passes the contract's ``iters`` as ``max_iter`` and its
  ``residual_tol`` through.
* ``hessian_vector_product``: ``TRPO.hessian_vector_product``
  (``sb3_contrib/trpo/trpo.py``, lines 390-403), called unchanged with a stand-in
  ``self`` whose ``cg_damping`` is 0 (the contract has no damping; TRPO's default
  is 0.1). It takes the KL's gradient, already computed with ``create_graph=True``;
  the adapter computes it as ``TRPO._compute_actor_grad`` does (lines 199-223):
  per parameter, ``allow_unused=True``, and a parameter whose gradient is ``None``
  is dropped from the problem (TRPO never steps it). The adapter gives such a
  parameter zeros in ``H v``, which is what "not stepped" means in the flat vector.
* ``kkt_step``: ``TRPO.train`` lines 301-306 and 319-323 (the maximal step length
  ``sqrt(2 target_kl / (s . H s))``, times the direction at backtrack coefficient 1).
* ``line_search``: ``TRPO.train`` lines 308-353, the backtracking loop, with the
  policy's surrogate and KL replaced by the contract's callables.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import torch as th
from sb3_contrib.common.utils import conjugate_gradient_solver
from sb3_contrib.trpo import TRPO

from peers.checks import Check

__all__ = ["conjugate_gradient", "hessian_vector_product", "kkt_step", "line_search"]


def conjugate_gradient(
    matvec: Callable[[th.Tensor], th.Tensor], b: th.Tensor, iters: int, residual_tol: float
) -> th.Tensor:
    return conjugate_gradient_solver(matvec, b, max_iter=iters, residual_tol=residual_tol)


def hessian_vector_product(
    scalar_fn: Callable[[], th.Tensor], params: list[th.Tensor], vector: th.Tensor
) -> th.Tensor:
    kl_div = scalar_fn()
    # TRPO._compute_actor_grad, lines 199-223 (the KL part; the surrogate's gradient is not
    # needed for H v).
    grad_kl_list = []
    actor_params = []
    kept = []
    for param in params:
        kl_param_grad, *_ = th.autograd.grad(
            kl_div,
            param,
            create_graph=True,
            retain_graph=True,
            allow_unused=True,
            only_inputs=True,
        )
        kept.append(kl_param_grad is not None)
        if kl_param_grad is not None:
            grad_kl_list.append(kl_param_grad.reshape(-1))
            actor_params.append(param)
    sizes = [param.numel() for param in params]
    pieces = list(th.split(vector, sizes))
    result = [th.zeros_like(piece) for piece in pieces]
    if not actor_params:
        return th.cat(result)
    grad_kl = th.cat(grad_kl_list)
    actor_vector = th.cat([piece for piece, keep in zip(pieces, kept, strict=True) if keep])
    product = TRPO.hessian_vector_product(
        SimpleNamespace(cg_damping=0.0), actor_params, grad_kl, actor_vector, retain_graph=False
    )
    # Scatter TRPO's product (over the parameters it steps) back into the contract's layout.
    kept_sizes = [size for size, keep in zip(sizes, kept, strict=True) if keep]
    product_pieces = iter(th.split(product.detach(), kept_sizes))
    for index, keep in enumerate(kept):
        if keep:
            result[index] = next(product_pieces)
    return th.cat(result)


def kkt_step(direction: th.Tensor, h_direction: th.Tensor, max_kl: float) -> th.Tensor:
    # TRPO.train lines 302-306 (target_kl -> max_kl, search_direction -> direction and
    # hessian_vector_product_fn(search_direction) -> h_direction).
    line_search_max_step_size = 2 * max_kl
    line_search_max_step_size /= float(th.matmul(direction, h_direction))
    line_search_max_step_size = np.sqrt(line_search_max_step_size)
    # Lines 308 and 321-323: the first candidate of the line search, coefficient 1.
    line_search_backtrack_coeff = 1.0
    return line_search_backtrack_coeff * line_search_max_step_size * direction


def line_search(
    objective: Callable[[th.Tensor], th.Tensor | float],
    kl: Callable[[th.Tensor], th.Tensor | float],
    params: th.Tensor,
    full_step: th.Tensor,
    max_kl: float,
    backtrack: float,
    max_backtracks: int,
) -> th.Tensor:
    # TRPO.train lines 308-353. In TRPO, full_step is line_search_max_step_size *
    # search_direction (the step of kkt_step) and the candidate is
    # original + coeff * max_step_size * direction; policy_objective is the surrogate at the
    # old parameters (line 281), computed before the loop.
    policy_objective = objective(params)
    line_search_backtrack_coeff = 1.0
    original_params = params.detach().clone()
    is_line_search_success = False
    with th.no_grad():
        for _ in range(max_backtracks):
            candidate = original_params + line_search_backtrack_coeff * full_step
            new_policy_objective = objective(candidate)
            kl_div = kl(candidate)
            if (kl_div < max_kl) and (new_policy_objective > policy_objective):
                is_line_search_success = True
                break
            line_search_backtrack_coeff *= backtrack
        if not is_line_search_success:
            return original_params.clone()
    return candidate


CHECKS = [
    Check(
        "conjugate_gradient",
        "peers.sb3_contrib_trpo:conjugate_gradient",
        frozenset(
            {
                "test_first_iteration_from_zero",
                "test_zero_rhs_gives_zero",
                "test_residual_tol_over_its_range",
            }
        ),
        "differs: starts from x_0 = 1e-4 * randn, the contract from x_0 = 0",
    ),
    Check(
        "hessian_vector_product",
        "peers.sb3_contrib_trpo:hessian_vector_product",
        frozenset(
            {
                "test_linear_and_unused_parameters",
                "test_exact_near_kinks_and_fast_oscillations",
                "test_large_dimension_several_tensors",
            }
        ),
        "wrong where a parameter enters only linearly: flat_grad drops its None gradient",
    ),
    Check("kkt_step", "peers.sb3_contrib_trpo:kkt_step"),
    Check("line_search", "peers.sb3_contrib_trpo:line_search"),
]
