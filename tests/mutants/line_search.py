"""Wrong backtracking line searches for TRPO."""

import torch


def _candidates(params, full_step, backtrack, indices):
    for i in indices:
        yield params + backtrack**i * full_step


def no_kl_check(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Accepts the first improving step whatever its KL: the trust region is never enforced."""
    base = objective(params)
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        if objective(candidate) > base:
            return candidate
    return params.clone()


def no_improvement_check(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Accepts the first step within the KL bound, even if the surrogate got worse."""
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        if kl(candidate) <= max_kl:
            return candidate
    return params.clone()


def returns_last_acceptable(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Keeps looping after a success and returns the last (smallest) acceptable step."""
    base = objective(params)
    found = params.clone()
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        if objective(candidate) > base and kl(candidate) <= max_kl:
            found = candidate
    return found


def skips_full_step(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Starts at ``backtrack^1``: the full KKT step is never tried."""
    base = objective(params)
    for candidate in _candidates(params, full_step, backtrack, range(1, max_backtracks + 1)):
        if objective(candidate) > base and kl(candidate) <= max_kl:
            return candidate
    return params.clone()


def full_step_when_none(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Falls back to ``params + full_step`` instead of keeping ``params`` when nothing qualifies."""
    base = objective(params)
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        if objective(candidate) > base and kl(candidate) <= max_kl:
            return candidate
    return params + full_step


def last_tried_when_none(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Returns the last candidate tried (the smallest step) when nothing qualifies."""
    base = objective(params)
    candidate = params
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        if objective(candidate) > base and kl(candidate) <= max_kl:
            return candidate
    return candidate


def one_backtrack_too_many(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """``range(max_backtracks + 1)``: tries one candidate more than allowed."""
    base = objective(params)
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks + 1)):
        if objective(candidate) > base and kl(candidate) <= max_kl:
            return candidate
    return params.clone()


def modifies_params_in_place(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Moves ``params`` in place (``params += step``): the caller's vector moves too."""
    base = objective(params.clone())
    original = params.clone()
    for i in range(max_backtracks):
        params.copy_(original).add_(backtrack**i * full_step)
        if objective(params) > base and kl(params) <= max_kl:
            return params
    params.copy_(original)
    return params + 0.0


def nan_kl_accepted(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Tests ``not kl > max_kl`` (reads the same as ``<=``) and so accepts a NaN KL."""
    base = objective(params)
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        if objective(candidate) > base and not kl(candidate) > max_kl:
            return candidate
    return params.clone()


def nan_objective_accepted(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Rejects on ``objective <= base`` instead of accepting on ``>``: a NaN objective gets in."""
    base = objective(params)
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        if not objective(candidate) <= base and kl(candidate) <= max_kl:
            return candidate
    return params.clone()


def nan_to_num_values(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """Replaces NaN objectives and KLs by 0 (``torch.nan_to_num``) before comparing them."""
    base = torch.nan_to_num(torch.as_tensor(objective(params)))
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        improves = torch.nan_to_num(torch.as_tensor(objective(candidate))) > base
        if improves and torch.nan_to_num(torch.as_tensor(kl(candidate))) <= max_kl:
            return candidate
    return params.clone()


def caps_backtracks_at_ten(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """``range(min(max_backtracks, 10))``: the seed's 10 trials hard-coded as a ceiling."""
    base = objective(params)
    for candidate in _candidates(params, full_step, backtrack, range(min(max_backtracks, 10))):
        if objective(candidate) > base and kl(candidate) <= max_kl:
            return candidate
    return params.clone()


def halves_regardless_of_backtrack(
    objective, kl, params, full_step, max_kl, backtrack, max_backtracks
):
    """Shrinks the step by 0.5 each time whatever ``backtrack`` says (a hard-coded halving)."""
    base = objective(params)
    for candidate in _candidates(params, full_step, 0.5, range(max_backtracks)):
        if objective(candidate) > base and kl(candidate) <= max_kl:
            return candidate
    return params.clone()


def gives_up_at_kl_tie(objective, kl, params, full_step, max_kl, backtrack, max_backtracks):
    """A KL exactly at ``max_kl`` ends the search with ``params``, instead of accepting or skipping.

    Either tie convention is correct; abandoning the smaller steps after the
    tie is not.
    """
    base = objective(params)
    for candidate in _candidates(params, full_step, backtrack, range(max_backtracks)):
        divergence = kl(candidate)
        if divergence == max_kl:
            break
        if objective(candidate) > base and divergence <= max_kl:
            return candidate
    return params.clone()
