"""Properties of ``adapt_kl_beta``: halve ``beta`` when ``kl < target/1.5``, double it when
``kl > 1.5*target``, keep it inside the band ``[target/1.5, 1.5*target]``.

Spec: Policy losses and distributions. Seed: :five: PPO / PPO-Penalty (β 更新规则, whose
"``d > delta/1.5`` doubles" is wrong; docs/errata.md). Paper: Schulman et al. (2017), section 4.

Arguments are Python floats on every backend; the result may be a Python number or a 0-d
array/tensor. Halving and doubling are exact in binary floating point, so results are
compared at float32 accuracy only to admit float32 implementations.

Inputs: ``beta`` and ``target`` log-uniform over ``[1e-12, 1e6]`` (a KL target of 1e-12 is as
valid as one of 0.01: nothing may compare against an absolute epsilon); ``kl`` anywhere
relative to the band (0, slightly negative estimates, ``target * 10^U`` for ``U`` in
``[-3, 3]``), and a hair from either band edge: ``edge * (1 ± delta)`` with ``delta``
log-uniform in ``[1e-7, 1e-2]`` (a band at 1.4 or 1.6, or an edge scaled the wrong way, is
off by far more).

Boundaries (the tie rule). ``kl < target/1.5``, ``1.5*kl < target`` and ``kl/target < 1/1.5``
are the same rule but round differently, and a float32 implementation rounds ``kl`` and
``target`` by a relative ``u = 2**-24`` each; so within a relative ``4u`` of a band edge either
neighbouring regime is accepted, and beyond it the regime is pinned. At exactly ``kl ==
target/1.5`` or ``kl == 1.5*target`` the contract's strict inequalities keep ``beta``, but
``<=``/``>=`` (changing ``beta`` at the edge) differs only on that tie and is accepted too:
``test_exact_band_edges_either_convention`` uses ``target = 3*m*2**k``, where both edges are
exact, and accepts keep or the neighbouring change, nothing else.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL
from drlspec.properties.policy_strategies import U32
from drlspec.properties.strategies import log_uniform

CONTRACT = "adapt_kl_beta"

betas = log_uniform(1e-12, 1e6)
targets = log_uniform(1e-12, 1e6)

# Relative distance from a band edge within which a float32 comparison may land on either side.
EDGE_REACH = 4 * U32


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


def _either_side(beta: float, kl: float, target: float) -> set[float]:
    """The oracle's regime, and the neighbouring one where kl is within EDGE_REACH of an edge."""
    expected = {oracle(beta, kl, target)}
    for edge in (target / 1.5, target * 1.5):
        if abs(kl - edge) <= EDGE_REACH * edge:
            expected |= {
                oracle(beta, edge * (1 - 2 * EDGE_REACH), target),
                oracle(beta, edge * (1 + 2 * EDGE_REACH), target),
            }
    return expected


@given(
    beta=betas,
    target=targets,
    position=st.one_of(st.just(0.0), st.floats(0.0, 0.99), log_uniform(1e-12, 0.99)),
)
def test_halves_below_band(impl, beta, target, position):
    """kl below target/1.5 (kl = position * target/1.5, incl. kl = 0 and tiny) halves beta."""
    kl = position * (target / 1.5)
    _assert_beta(impl(beta, kl, target), beta / 2.0, f"kl={kl!r} < target/1.5, target={target!r}")


@given(beta=betas, target=targets, position=st.floats(0.01, 0.99))
def test_keeps_inside_band(impl, beta, target, position):
    """kl strictly inside (target/1.5, 1.5*target) leaves beta unchanged."""
    low, high = target / 1.5, target * 1.5
    kl = low + (high - low) * position
    _assert_beta(impl(beta, kl, target), beta, f"kl={kl!r} inside the band, target={target!r}")


@given(beta=betas, target=targets, factor=st.one_of(st.floats(1.01, 100.0), log_uniform(1.01, 1e6)))
def test_doubles_above_band(impl, beta, target, factor):
    """kl above 1.5*target doubles beta."""
    kl = factor * 1.5 * target
    _assert_beta(impl(beta, kl, target), beta * 2.0, f"kl={kl!r} > 1.5*target, target={target!r}")


@given(
    beta=betas,
    target=targets,
    upper=st.booleans(),
    outside=st.booleans(),
    delta=log_uniform(1e-7, 1e-2),
)
def test_a_hair_from_band_edges(impl, beta, target, upper, outside, delta):
    """kl = edge * (1 ± delta), delta in [1e-7, 1e-2] relative: just outside the band halves
    (lower edge) or doubles (upper edge), just inside keeps beta; within a relative 4u of the
    edge (float32's reach) either neighbouring regime is accepted."""
    edge = target * 1.5 if upper else target / 1.5
    away = 1.0 if outside == upper else -1.0  # outside is above the upper edge, below the lower
    kl = edge * (1.0 + away * delta)
    where = f"{'outside' if outside else 'inside'} the {'upper' if upper else 'lower'} edge"
    _assert_beta(
        impl(beta, kl, target),
        _either_side(beta, kl, target),
        f"kl={kl!r} a relative {delta:.3g} {where}, target={target!r}",
    )


@given(
    beta=betas,
    multiple=st.integers(1, 1000),
    exponent=st.integers(-40, 20),
    upper=st.booleans(),
)
def test_exact_band_edges_either_convention(impl, beta, multiple, exponent, upper):
    """kl exactly target/1.5 or exactly 1.5*target: beta is kept (the contract's strict
    inequalities) or changed as just outside the band (``<=``/``>=``); nothing else."""
    target = 3.0 * multiple * 2.0**exponent
    kl = target * 1.5 if upper else target / 1.5
    assert (kl / 1.5 if upper else kl * 1.5) == target  # the edge is exact here
    side = "1.5*target" if upper else "target/1.5"
    changed = beta * 2.0 if upper else beta / 2.0
    _assert_beta(
        impl(beta, kl, target), {beta, changed}, f"kl={kl!r} exactly {side}, target={target!r}"
    )


@given(
    beta=betas,
    target=targets,
    kl=st.one_of(
        st.just(0.0),
        st.floats(-1e-3, 10.0),
        st.floats(-3.0, 3.0).map(lambda u: ("relative", u)),
    ),
)
def test_matches_definition(impl, beta, target, kl):
    """Agrees with the three-case rule on independent (beta, kl, target) triples: kl = 0,
    slightly negative, absolute, or target * 10^U for U in [-3, 3]."""
    if isinstance(kl, tuple):
        kl = target * 10.0 ** kl[1]
    _assert_beta(
        impl(beta, kl, target), _either_side(beta, kl, target), f"kl={kl!r}, target={target!r}"
    )


@given(beta=betas, target=targets, kl=st.floats(0.0, 10.0))
def test_never_leaves_the_positives(impl, beta, target, kl):
    """The new beta is positive and within a factor 2 of the old one."""
    value = _number(impl(beta, kl, target))
    assert beta / 2.0 * (1 - FLOAT32_RTOL) <= value <= beta * 2.0 * (1 + FLOAT32_RTOL), (
        f"new beta {value!r} from beta={beta!r}, kl={kl!r}, target={target!r} is not in "
        "[beta/2, 2*beta]"
    )
