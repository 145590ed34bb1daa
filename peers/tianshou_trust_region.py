"""tianshou's natural-gradient and TRPO kernels as the trust-region contracts (tianshou 2.0.1).

``tianshou.algorithm.modelfree.npg.NPG`` (TRPO's base class) has the kernels as methods:
``_conjugate_gradients(minibatch, flat_kl_grad, nsteps, residual_tol)`` (``npg.py`` lines
202-224) solves with ``self._MVP(p, flat_kl_grad)``, and ``_MVP(v, flat_kl_grad)`` (lines
195-200) is the Hessian-vector product of the KL by double backward through
``self._get_flat_grad`` (lines 226-228), plus ``v * self._damping``. The adapters call these
methods unchanged on a stand-in ``self`` that holds only what they read. The KKT step and
the line search are inline in ``TRPO._update_with_batch`` (``trpo.py`` lines 152-190); the
adapters transcribe those lines.

Translation: the contract's Hessian has no damping, so the stand-in's ``_damping`` is 0
(``NPG``'s default is 0.1: TRPO solves with ``H + 0.1 I``). The line search *minimises*
``actor_loss = -surrogate``; the contract's ``objective`` is the surrogate, so a candidate
is accepted where ``-objective(new) < -objective(params)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import SimpleNamespace

import torch
from tianshou.algorithm.modelfree.npg import NPG

from peers.checks import Check

__all__ = ["conjugate_gradient", "hessian_vector_product", "kkt_step", "line_search"]


class _Parameters(torch.nn.Module):
    """Stands for ``policy.actor``: ``_get_flat_grad`` reads only ``parameters()``."""

    def __init__(self, params: list[torch.Tensor]):
        super().__init__()
        self._params = params

    def parameters(self, recurse: bool = True):
        return iter(self._params)


def _npg(**members) -> SimpleNamespace:
    """A stand-in ``self`` for NPG's methods, with ``_get_flat_grad`` bound to it."""
    self = SimpleNamespace(**members)
    self._get_flat_grad = partial(NPG._get_flat_grad, self)
    return self


def hessian_vector_product(scalar_fn: Callable[[], torch.Tensor], params, vector):
    """``NPG._MVP`` with ``flat_kl_grad`` made as ``_update_with_batch`` makes it
    (``npg.py`` line 166: ``_get_flat_grad(kl, actor, create_graph=True)``), damping 0."""
    self = _npg(policy=SimpleNamespace(actor=_Parameters(list(params))), _damping=0.0)
    flat_kl_grad = self._get_flat_grad(scalar_fn(), self.policy.actor, create_graph=True)
    return NPG._MVP(self, vector, flat_kl_grad)


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b, iters, residual_tol):
    """``NPG._conjugate_gradients`` with ``self._MVP(p, flat_kl_grad) = matvec(p)``."""
    self = _npg(_MVP=lambda p, _flat_kl_grad: matvec(p))
    return NPG._conjugate_gradients(self, b, None, nsteps=iters, residual_tol=residual_tol)


def kkt_step(direction, h_direction, max_kl):
    """``trpo.py`` lines 152-160, with ``self._MVP(search_direction, ...)`` = ``h_direction``,
    and the step ``step_size * search_direction`` (line 168)."""
    step_size = torch.sqrt(
        2 * max_kl / (direction * h_direction).sum(0, keepdim=True),
    )
    return step_size * direction


def line_search(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """``trpo.py`` lines 163-190: ``step_size`` starts at 1 (``full_step`` is the KKT
    step), ``actor_loss = -objective(params)``; on failure the parameters are restored."""
    actor_loss = -objective(params)
    flat_params = params
    step_size = 1.0
    new_flat_params = flat_params
    for i in range(max_backtracks):
        new_flat_params = flat_params + step_size * full_step
        new_actor_loss = -objective(new_flat_params)
        new_kl = kl(new_flat_params)
        if new_kl < max_kl and new_actor_loss < actor_loss:
            break
        if i < max_backtracks - 1:
            step_size = step_size * backtrack
        else:
            new_flat_params = flat_params
    return new_flat_params


CHECKS = [
    Check(
        "hessian_vector_product",
        "peers.tianshou_trust_region:hessian_vector_product",
        frozenset(
            {
                "test_linear_and_unused_parameters",
                "test_exact_near_kinks_and_fast_oscillations",
                "test_large_dimension_several_tensors",
            }
        ),
        "RuntimeError for a parameter the scalar does not use, or uses only linearly",
    ),
    Check(
        "conjugate_gradient",
        "peers.tianshou_trust_region:conjugate_gradient",
        frozenset({"test_zero_rhs_gives_zero", "test_residual_tol_over_its_range"}),
        "residual tested only after an iteration: b = 0 gives 0/0 = NaN",
    ),
    Check("kkt_step", "peers.tianshou_trust_region:kkt_step"),
    Check("line_search", "peers.tianshou_trust_region:line_search"),
]
