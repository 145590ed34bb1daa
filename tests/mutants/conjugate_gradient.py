"""Wrong conjugate-gradient solvers: the mistakes made when CG is written from memory."""

import torch


def steepest_descent(matvec, b, iters, residual_tol):
    """No conjugation: the search direction is the residual every time (``beta = 0``)."""
    x = torch.zeros_like(b)
    r = b.clone()
    for _ in range(iters):
        rr = r @ r
        if rr <= residual_tol:
            break
        hr = matvec(r)
        alpha = rr / (r @ hr)
        x = x + alpha * r
        r = r - alpha * hr
    return x


def residual_never_updated(matvec, b, iters, residual_tol):
    """Forgets ``r -= alpha * H p``: every step is computed from the initial residual."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(iters):
        if rr <= residual_tol:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * p
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def step_along_residual(matvec, b, iters, residual_tol):
    """Updates ``x`` along ``r`` instead of the conjugate direction ``p`` (``x += alpha r``)."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(iters):
        if rr <= residual_tol:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * r
        r = r - alpha * hp
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def starts_at_b(matvec, b, iters, residual_tol):
    """Starts from ``x_0 = b`` but keeps ``r_0 = b`` (the residual of ``x_0 = 0``)."""
    x = b.clone()
    r = b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(iters):
        if rr <= residual_tol:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * p
        r = r - alpha * hp
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def never_stops_early(matvec, b, iters, residual_tol):
    """Ignores ``residual_tol`` (guarding only an exact ``0 / 0``): always ``iters`` products."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(iters):
        hp = matvec(p)
        curvature = p @ hp
        alpha = rr / curvature if curvature > 0 else torch.zeros_like(rr)
        x = x + alpha * p
        r = r - alpha * hp
        new_rr = r @ r
        p = r + (new_rr / rr if rr > 0 else 0.0) * p
        rr = new_rr
    return x


def seed_residual_test_after_update(matvec, b, iters, residual_tol):
    """The seed's loop: the residual is tested after an update only; ``b = 0`` gives 0/0 = NaN."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = r @ r
    for _ in range(iters):
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * p
        r = r - alpha * hp
        new_rr = r @ r
        if new_rr < residual_tol:
            break
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def modifies_b_in_place(matvec, b, iters, residual_tol):
    """``r = b`` without a copy, then ``r -= ...``: the caller's gradient is overwritten."""
    x = torch.zeros_like(b)
    r = b
    p = b.clone()
    rr = r @ r
    for _ in range(iters):
        if rr <= residual_tol:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x += alpha * p
        r -= alpha * hp
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def true_residual_every_iteration(matvec, b, iters, residual_tol):
    """Recomputes ``r = b - H x`` each iteration: right answer, twice the products allowed."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(iters):
        if rr <= residual_tol:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * p
        r = b - matvec(x)
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def caps_iterations_at_ten(matvec, b, iters, residual_tol):
    """Silently runs ``min(iters, 10)`` iterations: the seed's ``cg_iters = 10`` hard-coded."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(min(iters, 10)):
        if rr <= residual_tol:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * p
        r = r - alpha * hp
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def caps_iterations_at_twenty_five(matvec, b, iters, residual_tol):
    """Silently runs ``min(iters, 25)`` iterations (a "safety" cap on a large-D solve)."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(min(iters, 25)):
        if rr <= residual_tol:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * p
        r = r - alpha * hp
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def relative_residual_tol(matvec, b, iters, residual_tol):
    """Stops on ``r.r <= residual_tol * b.b``: scipy's relative ``rtol`` habit, not the contract."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    threshold = residual_tol * rr
    for _ in range(iters):
        if rr <= threshold:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x = x + alpha * p
        r = r - alpha * hp
        new_rr = r @ r
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x
