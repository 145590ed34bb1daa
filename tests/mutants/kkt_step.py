"""Wrong KKT steps: the step size of TRPO's quadratic trust region, mis-derived."""

import torch


def no_factor_two(direction, h_direction, max_kl):
    """``sqrt(max_kl / x.Hx)``: forgets the 1/2 of the quadratic model (ends at max_kl / 2)."""
    return torch.sqrt(max_kl / (direction @ h_direction)) * direction


def sqrt_missing(direction, h_direction, max_kl):
    """``2 max_kl / x.Hx`` without the square root (solves for beta^2 and stops there)."""
    return 2 * max_kl / (direction @ h_direction) * direction


def normalises_direction(direction, h_direction, max_kl):
    """``sqrt(2 max_kl) * x / ||x||``: a Euclidean ball of radius sqrt(2 max_kl), ignoring H."""
    return (2 * max_kl) ** 0.5 * direction / direction.norm()


def euclidean_curvature(direction, h_direction, max_kl):
    """``sqrt(2 max_kl / x.x) * x``: uses ``x . x`` where ``x . Hx`` belongs."""
    return torch.sqrt(2 * max_kl / (direction @ direction)) * direction


def seed_epsilon_in_denominator(direction, h_direction, max_kl):
    """The seed's ``+ 1e-8`` in ``x . Hx``: shrinks the step wherever the curvature is small."""
    return torch.sqrt(2 * max_kl / (direction @ h_direction + 1e-8)) * direction


def along_h_direction(direction, h_direction, max_kl):
    """Scales ``H x`` instead of ``x`` (the two arguments swapped in the product)."""
    return torch.sqrt(2 * max_kl / (direction @ h_direction)) * h_direction


def points_downhill(direction, h_direction, max_kl):
    """``-sqrt(2 max_kl / x.Hx) x``: a sign slip that minimises the linear model instead."""
    return -torch.sqrt(2 * max_kl / (direction @ h_direction)) * direction


def float32_inside(direction, h_direction, max_kl):
    """``sqrt(2 max_kl) / sqrt(x.Hx)`` computed on float32 copies: x.Hx underflows (or overflows).

    Fine while ``x . Hx`` is a normal float32 number; for a float64 input below
    1e-38 or above 3e38 the curvature becomes 0 or inf, and the step inf or 0.
    """
    x, hx = direction.float(), h_direction.float()
    return (torch.sqrt(torch.tensor(2.0 * max_kl)) / torch.sqrt(x @ hx) * x).to(direction.dtype)


def curvature_floor(direction, h_direction, max_kl):
    """``x.Hx`` clamped to at least 1e-8 "to avoid dividing by zero": too short a step below it."""
    return torch.sqrt(2 * max_kl / torch.clamp(direction @ h_direction, min=1e-8)) * direction


def tiny_epsilon_in_denominator(direction, h_direction, max_kl):
    """``+ 1e-12`` in ``x . Hx``, "too small to matter": it does once the curvature is tiny."""
    return torch.sqrt(2 * max_kl / (direction @ h_direction + 1e-12)) * direction


def zero_step_for_small_curvature(direction, h_direction, max_kl):
    """Returns a zero step when ``x.Hx < 1e-10`` ("degenerate direction") instead of scaling it."""
    curvature = direction @ h_direction
    if curvature < 1e-10:
        return torch.zeros_like(direction)
    return torch.sqrt(2 * max_kl / curvature) * direction
