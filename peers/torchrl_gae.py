"""torchrl's GAE functions as the ``gae`` contract.

``torchrl.objectives.value.functional.generalized_advantage_estimate`` (a loop
over time) and ``vec_generalized_advantage_estimate`` (a convolution over each
trajectory) take ``done`` (end of trajectory: terminated or truncated) and
``terminated`` separately, the same split as the contract. Their arrays are
``[*batch, T, F]``; the contract's ``[T, N]`` goes in as ``[N, T, 1]``.

The vectorised version (and ``reward2go``, :mod:`peers.torchrl_returns`) convolves
each trajectory with the filter ``[1, r, r^2, ...]`` that ``_geom_series_like``
(``torchrl/objectives/value/functional.py``, torchrl 0.14.1, lines 183-208) builds,
``r = gamma * lmbda``. Its docstring says it "drops all elements which are smaller
than ``thr``" (``1e-7``); it keeps ``int(log(thr) / log(r))`` elements, one fewer than
that: the last power at or above ``thr`` is dropped too. :func:`filter_as_documented`
builds the filter the docstring describes, for the diagnostics.

The convolution kernels get float32, the dtype of torchrl's collectors (torch's
default): in float64 on CPU, ``torch.conv1d`` with a filter as long as the trajectory
materialises an ``N x T x T`` unfolded copy (8.3 GiB and 10-15 s for a 4096 x 64 rollout,
against 0.34 GiB and 1.3 s in float32), over the suite's limits of 4 GiB and 10 s per call.
The contract judges at float32 accuracy, so the cast costs nothing in the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest import mock

import torch
from torchrl.objectives.value import functional
from torchrl.objectives.value.functional import (
    generalized_advantage_estimate,
    td_lambda_advantage_estimate,
    vec_generalized_advantage_estimate,
    vec_td_lambda_advantage_estimate,
)

from peers.checks import EVERY_PROPERTY, Check
from peers.torchrl_layout import from_torchrl, to_torchrl

__all__ = [
    "CONVOLUTION_DTYPE",
    "filter_as_documented",
    "gae",
    "td_lambda_advantage",
    "vec_gae",
    "vec_gae_documented_filter",
    "vec_td_lambda_advantage",
]


CONVOLUTION_DTYPE = torch.float32


def _documented_filter(t: torch.Tensor, r: float | torch.Tensor, thr: float) -> torch.Tensor:
    """``[1, r, r^2, ...]`` as a ``[len, 1]`` column, every power ``>= thr`` kept (at most
    ``len(t)`` of them): what ``_geom_series_like``'s docstring promises."""
    r = float(r)
    if r >= 1.0:
        count = t.numel()
    elif r < thr:  # 0 included: only r^0 = 1 is not below the threshold
        count = 1
    else:
        count = math.floor(math.log(thr) / math.log(r)) + 1
        # log's rounding may put the boundary power on the wrong side: settle it exactly
        while count > 1 and r ** (count - 1) < thr:
            count -= 1
        while r**count >= thr:
            count += 1
    count = max(1, min(count, t.numel()))
    powers = torch.full_like(t[:count], r)
    powers[0] = 1.0
    return powers.cumprod(0).unsqueeze(-1)


@contextmanager
def filter_as_documented() -> Iterator[None]:
    """Within the block, torchrl's convolution kernels use :func:`_documented_filter`."""
    with mock.patch.object(functional, "_geom_series_like", _documented_filter):
        yield


def _call(
    function: Callable,
    rewards,
    values,
    next_values,
    terminated,
    truncated,
    gamma,
    lam,
    dtype: torch.dtype | None = None,
):
    """``function`` on the rollout in torchrl's layout, the floats cast to ``dtype``
    (``None``: as given); the advantage comes back in the rewards' dtype."""
    terminated = terminated.bool()
    done = terminated | truncated.bool()
    dtype = dtype or rewards.dtype
    out = function(
        gamma,
        lam,
        to_torchrl(values.to(dtype)),
        to_torchrl(next_values.to(dtype)),
        to_torchrl(rewards.to(dtype)),
        to_torchrl(done),
        to_torchrl(terminated),
    )
    # the GAE functions return (advantage, value_target), the TD(lambda) ones the advantage
    advantage = out[0] if isinstance(out, tuple) else out
    return from_torchrl(advantage).to(rewards.dtype)


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
        CONVOLUTION_DTYPE,
    )


def vec_gae_documented_filter(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Diagnostic, not the peer as it is: the vectorised GAE with the filter its docstring
    describes (every power of ``gamma * lam`` at or above ``1e-7``, and ``[1]`` below it).
    It shows whether the filter's two defects are the version's only disagreements."""
    with filter_as_documented():
        return vec_gae(rewards, values, next_values, terminated, truncated, gamma, lam)


def td_lambda_advantage(rewards, values, next_values, terminated, truncated, gamma, lam):
    """``td_lambda_advantage_estimate``: the TD(lambda) return minus ``state_value``."""
    return _call(
        td_lambda_advantage_estimate,
        rewards,
        values,
        next_values,
        terminated,
        truncated,
        gamma,
        lam,
    )


def vec_td_lambda_advantage(rewards, values, next_values, terminated, truncated, gamma, lam):
    """``vec_td_lambda_advantage_estimate``: the same, vectorised."""
    return _call(
        vec_td_lambda_advantage_estimate,
        rewards,
        values,
        next_values,
        terminated,
        truncated,
        gamma,
        lam,
        CONVOLUTION_DTYPE,
    )


# vec_gae_documented_filter is a diagnostic for docs/peers.md, not a check: like every
# vectorised kernel of torchrl it does not finish the long-rollout property within the time
# limit, and the properties after a time-out are not run.
CHECKS = [
    Check("gae", "peers.torchrl_gae:gae"),
    Check(
        "gae",
        "peers.torchrl_gae:vec_gae",
        EVERY_PROPERTY,
        "wrong: IndexError when gamma * lam < 1e-7; drops a power >= 1e-7; time-out at T = 3001",
    ),
    Check(
        "gae",
        "peers.torchrl_gae:td_lambda_advantage",
        frozenset({"test_matches_double_sum", "test_long_rollouts_match_recursion"}),
        "differs on purpose: bootstraps from next_values[t], not values[t + 1], inside an episode",
    ),
    Check(
        "gae",
        "peers.torchrl_gae:vec_td_lambda_advantage",
        EVERY_PROPERTY,
        "wrong: IndexError when gamma * lam < 1e-7; time-out at T = 3001",
    ),
]
