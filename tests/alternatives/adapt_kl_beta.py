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


def inclusive_band_edges(beta, kl, target_kl):
    """``<=``/``>=``: changes beta at exactly ``target/1.5`` or ``1.5*target``, the other tie
    convention (the contract accepts both at an exact edge)."""
    if kl <= target_kl / 1.5:
        return beta / 2
    if kl >= target_kl * 1.5:
        return beta * 2
    return beta


def numpy_float32_comparisons(beta, kl, target_kl):
    """Everything in float32: kl and target rounded to float32 before the comparisons."""
    kl32, target32 = np.float32(kl), np.float32(target_kl)
    if kl32 < target32 / np.float32(1.5):
        return np.float32(beta) / np.float32(2)
    if kl32 > target32 * np.float32(1.5):
        return np.float32(beta) * np.float32(2)
    return np.float32(beta)
