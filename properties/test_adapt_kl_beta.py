"""Properties of ``adapt_kl_beta``: halve ``beta`` when ``kl < target/1.5``, double it when
``kl > 1.5*target``, keep it otherwise (both boundaries keep it).

Spec: Policy losses and distributions. Seed: :five: PPO / PPO-Penalty (β 更新规则, whose
"``d > delta/1.5`` doubles" is wrong; docs/errata.md). Paper: Schulman et al. (2017), section 4.

Arguments are Python floats on every backend; the result may be a Python number or a 0-d
array/tensor. Halving and doubling are exact in binary floating point, so results are
compared at float32 accuracy only to admit float32 implementations.

Boundaries. ``kl < target/1.5``, ``1.5*kl < target`` and ``kl/target < 1/1.5`` are the same
rule but round differently, so an exact boundary is only well defined where ``target/1.5`` and
``1.5*target`` are exact: the boundary property uses ``target = 3*m*2**k``. Random triples
that land within a relative ``1e-12`` of a boundary accept either neighbouring regime.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import FLOAT32_RTOL

CONTRACT = "adapt_kl_beta"

betas = st.floats(1e-4, 1e4)
targets = st.floats(1e-4, 1.0)


def oracle(beta: float, kl: float, target_kl: float) -> float:
    """Schulman et al. (2017), section 4, written as the three cases."""
    if kl < target_kl / 1.5:
        return beta / 2.0
    if kl > target_kl * 1.5:
        return beta * 2.0
    return beta


def _number(result: object) -> float:
    """The implementation's result as a float; anything but a number or a 0-d array fails."""
    if isinstance(result, (torch.Tensor, np.ndarray)):
        assert result.ndim == 0, f"adapt_kl_beta returned an array of shape {list(result.shape)}"
        return float(result.item())
    assert isinstance(result, Real) and not isinstance(result, bool), (
        f"adapt_kl_beta returned {type(result).__name__}, expected a number"
    )
    return float(result)


def _assert_beta(result: object, expected: float | set[float], what: str) -> None:
    allowed = expected if isinstance(expected, set) else {expected}
    value = _number(result)
    if not any(abs(value - e) <= FLOAT32_RTOL * e for e in allowed):
        wanted = " or ".join(repr(e) for e in sorted(allowed))
        raise AssertionError(f"{what}: new beta is {value!r}, expected {wanted}")


@given(beta=betas, target=targets, position=st.floats(0.0, 0.99))
def test_halves_below_band(impl, beta, target, position):
    """kl below target/1.5 (here kl = position * target/1.5, incl. kl = 0) halves beta."""
    kl = position * (target / 1.5)
    _assert_beta(impl(beta, kl, target), beta / 2.0, f"kl={kl!r} < target/1.5, target={target!r}")


@given(beta=betas, target=targets, position=st.floats(0.01, 0.99))
def test_keeps_inside_band(impl, beta, target, position):
    """kl strictly inside (target/1.5, 1.5*target) leaves beta unchanged."""
    low, high = target / 1.5, target * 1.5
    kl = low + (high - low) * position
    _assert_beta(impl(beta, kl, target), beta, f"kl={kl!r} inside the band, target={target!r}")


@given(beta=betas, target=targets, factor=st.floats(1.01, 100.0))
def test_doubles_above_band(impl, beta, target, factor):
    """kl above 1.5*target doubles beta."""
    kl = factor * 1.5 * target
    _assert_beta(impl(beta, kl, target), beta * 2.0, f"kl={kl!r} > 1.5*target, target={target!r}")


@given(
    beta=betas,
    multiple=st.integers(1, 1000),
    exponent=st.integers(-20, 0),
    upper=st.booleans(),
)
def test_boundaries_keep_beta(impl, beta, multiple, exponent, upper):
    """kl exactly target/1.5 or exactly 1.5*target leaves beta unchanged (both boundaries exact)."""
    target = 3.0 * multiple * 2.0**exponent
    kl = target * 1.5 if upper else target / 1.5
    assert (kl / 1.5 if upper else kl * 1.5) == target  # the boundary is exact here
    side = "1.5*target" if upper else "target/1.5"
    _assert_beta(impl(beta, kl, target), beta, f"kl={kl!r} exactly {side}, target={target!r}")


@given(
    beta=betas,
    target=targets,
    kl=st.one_of(st.just(0.0), st.floats(0.0, 10.0), st.floats(1e-8, 1e-2)),
)
def test_matches_definition(impl, beta, target, kl):
    """Agrees with the three-case rule on independent (beta, kl, target) triples, incl. kl = 0."""
    expected = {oracle(beta, kl, target)}
    for boundary in (target / 1.5, target * 1.5):
        if math.isclose(kl, boundary, rel_tol=1e-12):
            # An equivalent comparison may round to the other side of the boundary.
            expected |= {
                oracle(beta, kl * (1 - 1e-9), target),
                oracle(beta, kl * (1 + 1e-9), target),
            }
    _assert_beta(impl(beta, kl, target), expected, f"kl={kl!r}, target={target!r}")


@given(beta=betas, target=targets, kl=st.floats(0.0, 10.0))
def test_never_leaves_the_positives(impl, beta, target, kl):
    """The new beta is positive and within a factor 2 of the old one."""
    value = _number(impl(beta, kl, target))
    assert beta / 2.0 * (1 - FLOAT32_RTOL) <= value <= beta * 2.0 * (1 + FLOAT32_RTOL), (
        f"new beta {value!r} from beta={beta!r}, kl={kl!r}, target={target!r} is not in "
        "[beta/2, 2*beta]"
    )
