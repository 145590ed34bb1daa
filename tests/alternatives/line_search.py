"""Correct line searches written differently from the reference."""

import torch


def objective_first_repeated_products(
    objective, kl, params, full_step, max_kl, backtrack, max_backtracks
):
    """Objective before KL, ``objective(params)`` re-evaluated each time, ``step *= backtrack``."""
    step = full_step.clone()
    for _ in range(max_backtracks):
        candidate = params + step
        improves = float(objective(candidate)) > float(objective(params))
        if improves and float(kl(candidate)) <= max_kl:
            return candidate
        step = step * backtrack
    return params.clone()


def all_candidates_up_front(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Evaluates every candidate first (as a batched implementation would), then picks the first."""
    coefficients = backtrack ** torch.arange(max_backtracks, dtype=params.dtype)
    candidates = params + coefficients.to(params.device)[:, None] * full_step
    base = objective(params)
    kls = torch.stack([torch.as_tensor(kl(c)) for c in candidates])
    objectives = torch.stack([torch.as_tensor(objective(c)) for c in candidates])
    acceptable = (objectives > base) & (kls <= max_kl)
    if not bool(acceptable.any()):
        return params.clone()
    return candidates[int(acceptable.int().argmax())]


def while_loop(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """A ``while`` loop over a shrinking step fraction, KL tested first, Python floats compared."""
    old_objective = float(objective(params))
    fraction, trials = 1.0, 0
    while trials < max_backtracks:
        candidate = params + fraction * full_step
        within = float(kl(candidate)) <= max_kl
        if within and float(objective(candidate)) > old_objective:
            return candidate
        fraction *= backtrack
        trials += 1
    return params.clone()


def strict_kl_bound(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """``kl < max_kl`` (the seed's ``kl_div < self.kl_constraint``, sb3-contrib's ``TRPO.train``).

    Differs from the reference only at a KL of exactly ``max_kl``, which it
    skips: the contract accepts both tie conventions.
    """
    base = objective(params)
    coefficient = 1.0
    for _ in range(max_backtracks):
        candidate = params + coefficient * full_step
        if kl(candidate) < max_kl and objective(candidate) > base:
            return candidate
        coefficient *= backtrack
    return params.clone()


def not_worse_objective(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Spinning Up's test (``trpo.py``: ``kl <= delta and pi_l_new <= pi_l_old``): a step whose
    objective equals ``objective(params)`` is accepted. Differs from the reference only there."""
    base = objective(params)
    for i in range(max_backtracks):
        candidate = params + backtrack**i * full_step
        if objective(candidate) >= base and kl(candidate) <= max_kl:
            return candidate
    return params.clone()
