"""Correct conjugate-gradient solvers written differently from the reference."""

import torch


def float32_explicit_residual(matvec, b, iters, residual_tol):
    """float32 throughout, ``r_0 = b - H x_0`` by one extra product, test on ``||r||``."""
    x = torch.zeros_like(b, dtype=torch.float32)
    r = b.float() - matvec(x)
    p = r.clone()
    rr = r @ r
    for _ in range(iters):
        if rr.sqrt() <= residual_tol:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * p
        r = r - alpha * hp
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x.to(b.dtype)


def schulman_order(matvec, b, iters, residual_tol):
    """modular_rl's loop order (residual tested after the update), guarded against ``b = 0``."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = r.dot(r)
    if rr < residual_tol:
        return x
    for _ in range(iters):
        z = matvec(p)
        v = rr / p.dot(z)
        x += v * p
        r -= v * z
        new_rr = r.dot(r)
        if new_rr < residual_tol:
            break
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def functional_fold(matvec, b, iters, residual_tol):
    """No loop variables mutated: ``functools.reduce`` over an immutable state ``(x, r, p, rr)``.

    Once the residual test passes, the state is carried through unchanged (and
    ``matvec`` is no longer called), which is the same as breaking out.
    """
    from functools import reduce

    def step(state, _):
        x, r, p, rr = state
        if bool(rr <= residual_tol):
            return state
        hp = matvec(p)
        alpha = rr / torch.dot(p, hp)
        r_next = r - alpha * hp
        rr_next = torch.dot(r_next, r_next)
        return (x + alpha * p, r_next, r_next + (rr_next / rr) * p, rr_next)

    start = (torch.zeros_like(b), b, b, torch.dot(b, b))
    return reduce(step, range(iters), start)[0]
