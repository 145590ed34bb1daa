"""Correct KKT steps written differently from the reference."""

import numpy as np
import torch


def numpy_formula(direction, h_direction, max_kl):
    """numpy, the formula as written: ``sqrt(2 delta / x.Hx) x``."""
    return np.sqrt(2.0 * max_kl / np.dot(direction, h_direction)) * direction


def lagrange_multiplier_float32(direction, h_direction, max_kl):
    """float32, via the multiplier ``lambda = sqrt(x.Hx / (2 delta))`` and ``s = x / lambda``."""
    x = direction.float()
    multiplier = torch.sqrt(torch.dot(x, h_direction.float()) / (2.0 * max_kl))
    return (x / multiplier).to(direction.dtype)
