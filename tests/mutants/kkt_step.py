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
