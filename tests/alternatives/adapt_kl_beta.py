"""Correct adaptive KL coefficients written differently from the reference."""

import numpy as np


def numpy_ratio_form(beta, kl, target_kl):
    """Compares ``1.5 * kl`` and ``kl / 1.5`` with the target (the same rule, rearranged)
    and returns a numpy float."""
    factor = np.where(1.5 * kl < target_kl, 0.5, np.where(kl / 1.5 > target_kl, 2.0, 1.0))
    return np.float64(beta) * factor


def numpy_float32_table(beta, kl, target_kl):
    """Looks the factor up in a table by the sign of the two comparisons, in float32."""
    below = int(np.float64(kl) < np.float64(target_kl) / 1.5)
    above = int(np.float64(kl) > np.float64(target_kl) * 1.5)
    return np.float32(beta) * np.float32([1.0, 2.0, 0.5][below * 2 + above])
