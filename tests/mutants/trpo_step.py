"""Wrong TRPO updates: each is one bug seen in real TRPO code, the rest as the reference."""

import copy

import torch

from drlspec.trust_region import (
    conjugate_gradient,
    flat_grad,
    flat_params,
    kkt_step,
    set_flat_params,
)


def _surrogate(policy, observations, actions, log_prob_old, advantages):
    log_probs = policy(observations).log_prob(actions)
    return (torch.exp(log_probs - log_prob_old.detach()) * advantages.detach()).mean()


def _fvp(scalar_fn, policy, damping):
    """``v -> H v + damping v`` for the Hessian of ``scalar_fn()`` at the current parameters."""

    def product(vector):
        grad = flat_grad(scalar_fn(), policy, create_graph=True)
        return flat_grad(grad @ vector, policy).detach() + damping * vector

    return product


def _step(
    policy,
    observations,
    actions,
    log_prob_old,
    advantages,
    max_kl,
    damping,
    cg_iters,
    backtrack,
    max_backtracks,
    *,
    sign=1.0,
    kkt_kl=None,
    curvature_of="kl",
    accept=None,
    pick="first",
    old_policy_of=None,
):
    """The reference's algorithm with one knob per bug."""
    with torch.no_grad():
        old = policy(observations)

    def surrogate():
        return _surrogate(policy, observations, actions, log_prob_old, advantages)

    def mean_kl():
        return torch.distributions.kl_divergence(old, policy(observations)).mean()

    theta = flat_params(policy)
    gradient = sign * flat_grad(surrogate(), policy)
    if not bool(gradient.abs().sum() > 0):
        return theta
    scalar = {"kl": mean_kl, "surrogate": surrogate}[curvature_of]
    fisher = _fvp(scalar, policy, damping)
    direction = conjugate_gradient(fisher, gradient, cg_iters, 1e-10 * float(gradient @ gradient))
    full_step = kkt_step(direction, fisher(direction), max_kl if kkt_kl is None else kkt_kl)
    reference_policy = old_policy_of(policy) if old_policy_of else None
    with torch.no_grad():
        old_value = float(surrogate())
        chosen = theta.clone()
        for j in range(max_backtracks):
            candidate = theta + backtrack**j * full_step
            set_flat_params(policy, candidate)
            value = float(surrogate())
            if reference_policy is not None:
                kl = float(
                    torch.distributions.kl_divergence(
                        reference_policy(observations), policy(observations)
                    ).mean()
                )
            else:
                kl = float(mean_kl())
            ok = (
                accept(kl, value, old_value, max_kl)
                if accept
                else (kl <= max_kl and value > old_value)
            )
            if ok:
                chosen = candidate
                if pick == "first":
                    break
        set_flat_params(policy, chosen)
    return chosen


def old_policy_aliased(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """``old_policy = policy`` instead of ``copy.deepcopy(policy)``: the line search measures
    KL(candidate || candidate) = 0, so the full step is accepted whatever its true KL."""
    return _step(
        policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
        backtrack, max_backtracks, old_policy_of=lambda p: p,
    )  # fmt: skip


def skips_kl_check(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """The line search only asks for a better surrogate and never re-measures the KL: the
    quadratic model's step is trusted, and a full step beyond the trust region is kept."""
    return _step(
        policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
        backtrack, max_backtracks, accept=lambda kl, value, old, bound: value > old,
    )  # fmt: skip


def descent_direction(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """Takes the gradient of the loss ``-L`` and then adds the step as if it were ``L``'s:
    every candidate lowers the surrogate, so the line search refuses them all and TRPO never
    learns (an update that is silently always rejected)."""
    return _step(
        policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
        backtrack, max_backtracks, sign=-1.0,
    )  # fmt: skip


def kkt_without_factor_two(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """``sqrt(max_kl / x^T H x)`` instead of ``sqrt(2 max_kl / x^T H x)``: the trust region
    ``0.5 s^T H s <= max_kl`` read as ``s^T H s <= max_kl``; every step is 1/sqrt(2) short."""
    return _step(
        policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
        backtrack, max_backtracks, kkt_kl=0.5 * max_kl,
    )  # fmt: skip


def fisher_of_surrogate(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """The Hessian-vector product is taken of the surrogate instead of the mean KL (the wrong
    closure passed to the HVP): CG solves with the surrogate's curvature, not the Fisher's."""
    try:
        return _step(
            policy, observations, actions, log_prob_old, advantages, max_kl, damping,
            cg_iters, backtrack, max_backtracks, curvature_of="surrogate",
        )  # fmt: skip
    except ValueError:
        # An indefinite Hessian stops the reference CG; a plain CG would go on with garbage.
        return flat_params(policy)


def last_acceptable_candidate(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """The backtracking loop has no ``break``: it keeps the last acceptable candidate, the
    smallest step, instead of the first (largest) one."""
    return _step(
        policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
        backtrack, max_backtracks, pick="last",
    )  # fmt: skip


def ignores_damping(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """The damping argument is accepted but never added to ``F v`` (the seed's
    ``hessian_matrix_vector_product`` has none): CG solves ``F x = g``, not ``(F + d I) x = g``."""
    return _step(
        policy, observations, actions, log_prob_old, advantages, max_kl, 0.0, cg_iters,
        backtrack, max_backtracks,
    )  # fmt: skip


def returns_old_parameters(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """Returns the parameters read before the update while the policy keeps the new ones: a
    caller that logs or restores from the returned vector sees the wrong policy."""
    theta = flat_params(policy)
    _step(
        policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
        backtrack, max_backtracks,
    )  # fmt: skip
    return theta


def kl_old_not_detached(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """The Fisher-vector product differentiates KL(pi_theta || pi_theta) with both sides
    carrying graph (the old distribution not detached): its Hessian is 0, so the "natural"
    gradient is the plain gradient g / damping."""
    with torch.no_grad():
        old = policy(observations)

    def surrogate():
        return _surrogate(policy, observations, actions, log_prob_old, advantages)

    def self_kl():
        current = policy(observations)
        return torch.distributions.kl_divergence(current, current).mean()

    def mean_kl():
        return torch.distributions.kl_divergence(old, policy(observations)).mean()

    theta = flat_params(policy)
    gradient = flat_grad(surrogate(), policy)
    if not bool(gradient.abs().sum() > 0):
        return theta
    fisher = _fvp(self_kl, policy, damping)
    direction = conjugate_gradient(fisher, gradient, cg_iters, 1e-10 * float(gradient @ gradient))
    full_step = kkt_step(direction, fisher(direction), max_kl)
    with torch.no_grad():
        old_value = float(surrogate())
        for j in range(max_backtracks):
            candidate = theta + backtrack**j * full_step
            set_flat_params(policy, candidate)
            if float(mean_kl()) <= max_kl and float(surrogate()) > old_value:
                return candidate
        set_flat_params(policy, theta)
    return theta.clone()


def evaluates_candidates_on_copy(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """Tries the candidates on a deep copy (as the seed's line search does) and returns the
    accepted vector, but never writes it back into the caller's policy."""
    work = copy.deepcopy(policy)
    return _step(
        work, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
        backtrack, max_backtracks,
    )  # fmt: skip


def seed_policy_learn(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """The seed's ``policy_learn`` (with ``elf`` read as ``self``): no damping, a CG whose
    residual test comes after the first update (``0 / 0 = NaN`` for a zero gradient, errata
    T3), ``+ 1e-8`` in the step size (T4) and a strict ``kl < max_kl``."""
    with torch.no_grad():
        old = policy(observations)
    params = list(policy.parameters())

    def surrogate(module):
        log_probs = module(observations).log_prob(actions)
        return torch.mean(torch.exp(log_probs - log_prob_old) * advantages)

    def hvp(vector):
        kl = torch.mean(torch.distributions.kl_divergence(old, policy(observations)))
        kl_grad = torch.cat(
            [g.view(-1) for g in torch.autograd.grad(kl, params, create_graph=True)]
        )
        return torch.cat([g.view(-1) for g in torch.autograd.grad(kl_grad @ vector, params)])

    grad = torch.cat([g.view(-1) for g in torch.autograd.grad(surrogate(policy), params)])
    x = torch.zeros_like(grad)
    r, p = grad.clone(), grad.clone()
    rdotr = r @ r
    for _ in range(cg_iters):
        hp = hvp(p)
        alpha = rdotr / (p @ hp)
        x = x + alpha * p
        r = r - alpha * hp
        new_rdotr = r @ r
        if new_rdotr < 1e-10:
            break
        p = r + (new_rdotr / rdotr) * p
        rdotr = new_rdotr
    max_vec = torch.sqrt(2 * max_kl / (x @ hvp(x) + 1e-8)) * x
    old_para = flat_params(policy)
    with torch.no_grad():
        old_obj = surrogate(policy)
        new_para = old_para
        for i in range(max_backtracks):
            candidate = old_para + backtrack**i * max_vec
            trial = copy.deepcopy(policy)
            set_flat_params(trial, candidate)
            kl_div = torch.mean(torch.distributions.kl_divergence(old, trial(observations)))
            if surrogate(trial) > old_obj and kl_div < max_kl:
                new_para = candidate
                break
        set_flat_params(policy, new_para)
    return new_para
