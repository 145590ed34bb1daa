"""Correct KKT steps written differently from the reference."""

import numpy as np
import torch


def numpy_formula(direction, h_direction, max_kl):
    """numpy, the formula as written: ``sqrt(2 delta / x.Hx) x``."""
    return np.sqrt(2.0 * max_kl / np.dot(direction, h_direction)) * direction


def lagrange_multiplier_float32(direction, h_direction, max_kl):
    """float32 inside, via the multiplier ``lambda = sqrt(x.Hx / (2 delta))``: ``s = x / lambda``.

    float32 holds the digits, not the range of a float64 input: ``x`` and ``Hx``
    are first divided by powers of two (exact) that bring their largest entries
    to about 1, the multiplier is computed in float32 on those, and the powers
    of two are put back in the input's dtype. ``ldexp`` keeps every rescaling
    exact, so the only rounding is float32's.
    """
    _, x_exponent = torch.frexp(direction.abs().max())
    _, y_exponent = torch.frexp(h_direction.abs().max())
    # An even total exponent, so that its square root is a power of two.
    y_exponent = y_exponent + (x_exponent + y_exponent) % 2
    x = torch.ldexp(direction, -x_exponent).float()
    y = torch.ldexp(h_direction.to(direction.dtype), -y_exponent).float()
    multiplier = torch.sqrt(torch.dot(x, y) / (2.0 * max_kl))
    # lambda = multiplier * 2^((ex + ey) / 2); s = x / lambda = (x' / multiplier) * 2^(ex - that).
    shift = x_exponent - (x_exponent + y_exponent) // 2
    return torch.ldexp((x / multiplier).to(direction.dtype), shift)


def log_space_coefficient(direction, h_direction, max_kl):
    """The coefficient as ``exp((log(2 delta) - log(x.Hx)) / 2)``: no square root, no division."""
    curvature = direction @ h_direction.to(direction.dtype)
    return (
        torch.exp(0.5 * (torch.log(2.0 * torch.as_tensor(max_kl)) - torch.log(curvature))).to(
            direction.dtype
        )
        * direction
    )
