"""torchrl's GAE functions as the ``gae`` contract.

``torchrl.objectives.value.functional.generalized_advantage_estimate`` (a loop
over time) and ``vec_generalized_advantage_estimate`` (a convolution over each
trajectory) take ``done`` (end of trajectory: terminated or truncated) and
``terminated`` separately, the same split as the contract. Their arrays are
``[*batch, T, F]``; the contract's ``[T, N]`` goes in as ``[N, T, 1]``.
"""

from __future__ import annotations

from torchrl.objectives.value.functional import (
    generalized_advantage_estimate,
    vec_generalized_advantage_estimate,
)

from peers.checks import EVERY_PROPERTY, Check
from peers.torchrl_layout import GEOMETRIC_THRESHOLD, from_torchrl, to_torchrl

__all__ = ["gae", "vec_gae", "vec_gae_where_defined"]


def _call(function, rewards, values, next_values, terminated, truncated, gamma, lam):
    terminated = terminated.bool()
    done = terminated | truncated.bool()
    advantage, _value_target = function(
        gamma,
        lam,
        to_torchrl(values),
        to_torchrl(next_values),
        to_torchrl(rewards),
        to_torchrl(done),
        to_torchrl(terminated),
    )
    return from_torchrl(advantage)


def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """``generalized_advantage_estimate``: the reverse loop."""
    return _call(
        generalized_advantage_estimate,
        rewards,
        values,
        next_values,
        terminated,
        truncated,
        gamma,
        lam,
    )


def vec_gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    """``vec_generalized_advantage_estimate``: the vectorised version (scalar gamma and lam)."""
    return _call(
        vec_generalized_advantage_estimate,
        rewards,
        values,
        next_values,
        terminated,
        truncated,
        gamma,
        lam,
    )


def vec_gae_where_defined(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Diagnostic, not the peer as it is: the vectorised GAE wherever it runs
    (``gamma * lam >= 1e-7``), torchrl's loop version below that. It shows that
    the threshold is the vectorised version's only disagreement with the contract."""
    function = vec_gae if gamma * lam >= GEOMETRIC_THRESHOLD else gae
    return function(rewards, values, next_values, terminated, truncated, gamma, lam)


CHECKS = [
    Check("gae", "peers.torchrl_gae:gae"),
    Check(
        "gae",
        "peers.torchrl_gae:vec_gae",
        EVERY_PROPERTY,
        "wrong: IndexError when gamma * lam < 1e-7 (lam = 0 included)",
    ),
    Check("gae", "peers.torchrl_gae:vec_gae_where_defined", note="diagnostic"),
]
