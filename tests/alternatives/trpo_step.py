"""Correct TRPO updates written differently from the reference."""

import math

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters


def explicit_fisher_solve(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """``torch.func.functional_call`` on a flat vector; the explicit ``F`` and
    ``torch.linalg.solve`` when ``cg_iters >= P`` (what CG computes then), CG over
    ``torch.autograd.functional.hvp`` otherwise; the
    line search tests ``KL < max_kl`` strictly (the seed's and sb3-contrib's convention)."""
    names = [name for name, _ in policy.named_parameters()]
    shapes = [p.shape for p in policy.parameters()]
    sizes = [p.numel() for p in policy.parameters()]
    theta0 = parameters_to_vector(policy.parameters()).detach().clone()
    log_prob_old = log_prob_old.detach()
    advantages = advantages.detach()

    def unflatten(theta):
        pieces = torch.split(theta, sizes)
        return {n: t.view(s) for n, t, s in zip(names, pieces, shapes, strict=True)}

    def distribution(theta):
        return torch.func.functional_call(policy, unflatten(theta), (observations,))

    old = distribution(theta0)  # theta0 is detached: so is old

    def surrogate(theta):
        ratio = torch.exp(distribution(theta).log_prob(actions) - log_prob_old)
        return (ratio * advantages).mean()

    def mean_kl(theta):
        return torch.distributions.kl_divergence(old, distribution(theta)).mean()

    g = torch.func.grad(surrogate)(theta0)
    if not bool((g != 0).any()):
        return theta0

    if cg_iters >= theta0.numel():
        fisher = torch.autograd.functional.hessian(mean_kl, theta0)
        matrix = fisher + damping * torch.eye(theta0.numel(), dtype=theta0.dtype)
        x = torch.linalg.solve(matrix, g)
        hx = matrix @ x
    else:

        def hvp(v):
            return torch.autograd.functional.hvp(mean_kl, theta0, v)[1] + damping * v

        x = torch.zeros_like(g)
        r = g.clone()
        p = g.clone()
        rr = r @ r
        for _ in range(cg_iters):
            if rr <= 1e-10 * (g @ g):
                break
            hp = hvp(p)
            a = rr / (p @ hp)
            x = x + a * p
            r = r - a * hp
            rr, rr_old = r @ r, rr
            p = r + (rr / rr_old) * p
        hx = hvp(x)
    step = torch.sqrt(2 * max_kl / (x @ hx)) * x
    with torch.no_grad():
        old_value = surrogate(theta0)
        new = theta0
        for j in range(max_backtracks):
            candidate = theta0 + backtrack**j * step
            if mean_kl(candidate) < max_kl and surrogate(candidate) > old_value:
                new = candidate
                break
    vector_to_parameters(new, policy.parameters())
    return new


def spinning_up_style(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """After Spinning Up's TRPO: a loss ``-L`` to decrease, CG with a fixed iteration count,
    ``set_and_eval`` over the backtracking coefficients, acceptance ``kl <= delta and
    loss_new <= loss_old`` (a non-strict improvement, which the contract accepts).

    Spinning Up adds ``EPS = 1e-8`` to ``p^T A p`` and to ``x^T H x``; that moves the step
    when ``g`` is small, so it is left out here."""
    params = list(policy.parameters())

    def flat_grad(value, **kwargs):
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(value, params, **kwargs)])

    def get_flat():
        return torch.cat([p.data.reshape(-1) for p in params])

    def set_flat(flat):
        offset = 0
        for p in params:
            p.data.copy_(flat[offset : offset + p.numel()].view_as(p))
            offset += p.numel()

    with torch.no_grad():
        pi_old = policy(observations)

    def loss_pi():
        logp = policy(observations).log_prob(actions)
        return -(torch.exp(logp - log_prob_old) * advantages).mean()

    def kl():
        return torch.distributions.kl_divergence(pi_old, policy(observations)).mean()

    def hx(v):
        grads = flat_grad(kl(), create_graph=True)
        return flat_grad(grads @ v).detach() + damping * v

    def cg(b):
        x = torch.zeros_like(b)
        r = b.clone()
        p = b.clone()
        r_dot_old = r @ r
        for _ in range(cg_iters):
            if r_dot_old == 0:  # solved exactly: the next alpha would be 0 / 0
                break
            z = hx(p)
            alpha = r_dot_old / (p @ z)
            x = x + alpha * p
            r = r - alpha * z
            r_dot_new = r @ r
            p = r + (r_dot_new / r_dot_old) * p
            r_dot_old = r_dot_new
        return x

    old_params = get_flat().clone()
    pi_l_old = loss_pi()
    g = -flat_grad(pi_l_old)
    pi_l_old = float(pi_l_old.detach())
    if float(g.abs().max()) == 0.0:
        return old_params
    x = cg(g)
    alpha = math.sqrt(2 * max_kl / float(x @ hx(x)))

    def set_and_eval(step):
        set_flat(old_params + alpha * x * step)
        with torch.no_grad():
            return float(kl()), float(loss_pi())

    for j in range(max_backtracks):
        kl_new, pi_l_new = set_and_eval(backtrack**j)
        if kl_new <= max_kl and pi_l_new <= pi_l_old:
            return get_flat().clone()
    set_flat(old_params)
    return old_params


def float32_step_and_line_search(
    policy, observations, actions, log_prob_old, advantages, max_kl, damping, cg_iters,
    backtrack, max_backtracks,
):  # fmt: skip
    """CG (stopped by the seed's absolute ``r.r < 1e-10``) in the policy's precision, then
    ``x`` rounded to float32, the KKT scaling in float32 and the line search comparing
    float32 KLs and surrogates, with ``>=`` for the surrogate.

    CG itself stays in float64: iterated in float32 it loses the finite termination the
    step property relies on when ``cg_iters >= P`` (/work/notes/h17/trpo.md)."""
    params = list(policy.parameters())
    theta0 = parameters_to_vector(params).detach().clone()
    with torch.no_grad():
        old = policy(observations)

    def surrogate():
        logp = policy(observations).log_prob(actions)
        return (torch.exp(logp - log_prob_old.detach()) * advantages.detach()).mean()

    def mean_kl():
        return torch.distributions.kl_divergence(old, policy(observations)).mean()

    g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(surrogate(), params)])
    if not bool((g != 0).any()):
        return theta0
    kl_grad = torch.cat(
        [t.reshape(-1) for t in torch.autograd.grad(mean_kl(), params, create_graph=True)]
    )

    def hvp(v):
        out = torch.autograd.grad(kl_grad @ v.to(kl_grad.dtype), params, retain_graph=True)
        return torch.cat([t.reshape(-1) for t in out]) + damping * v.to(kl_grad.dtype)

    x = torch.zeros_like(g)
    r, p = g.clone(), g.clone()
    rr = r @ r
    for _ in range(cg_iters):
        if rr < 1e-10:  # the seed's absolute test
            break
        hp = hvp(p)
        a = rr / (p @ hp)
        x, r = x + a * p, r - a * hp
        rr, rr_old = r @ r, rr
        p = r + (rr / rr_old) * p
    x32 = x.float()
    step = (torch.sqrt(2 * max_kl / (x32 @ hvp(x32).float())) * x32).to(theta0.dtype)
    bound = torch.tensor(max_kl, dtype=torch.float32)
    with torch.no_grad():
        old_value = surrogate().float()
        for j in range(max_backtracks):
            candidate = theta0 + backtrack**j * step
            vector_to_parameters(candidate, params)
            if mean_kl().float() <= bound and surrogate().float() >= old_value:
                return candidate
        vector_to_parameters(theta0, params)
    return theta0.clone()


def float32_conjugate_gradient(
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
):
    """Conjugate gradient run in float32 (the gradient and every Fisher-vector product cast),
    the rest in the policy's precision: float32 TRPO code with float64 networks."""
    from drlspec.trust_region import (
        conjugate_gradient,
        fisher_vector_product,
        flat_grad,
        flat_params,
        kkt_step,
        line_search,
        set_flat_params,
    )

    log_prob_old, advantages = log_prob_old.detach(), advantages.detach()
    with torch.no_grad():
        old = policy(observations)

    def surrogate():
        ratio = torch.exp(policy(observations).log_prob(actions) - log_prob_old)
        return (ratio * advantages).mean()

    def mean_kl():
        return torch.distributions.kl_divergence(old, policy(observations)).mean()

    gradient = flat_grad(surrogate(), policy)
    if not bool(gradient.abs().sum() > 0):
        return flat_params(policy)

    def fisher(vector):
        return fisher_vector_product(mean_kl, policy, vector, damping)

    g32 = gradient.float()
    x = conjugate_gradient(
        lambda v: fisher(v.double()).float(), g32, cg_iters, 1e-10 * float(g32 @ g32)
    ).double()
    full_step = kkt_step(x, fisher(x), max_kl)

    def objective_at(theta):
        set_flat_params(policy, theta)
        with torch.no_grad():
            return surrogate()

    def kl_at(theta):
        set_flat_params(policy, theta)
        with torch.no_grad():
            return mean_kl()

    theta_new = line_search(
        objective_at, kl_at, flat_params(policy), full_step, max_kl, backtrack, max_backtracks
    )
    set_flat_params(policy, theta_new)
    return theta_new
