"""Properties of ``dueling_aggregate``: ``Q = V + A - mean_a A`` or ``Q = V + A - max_a A``.

Spec: Value-based. Seed: :five: Dueling DQN (一、减去最大值能确保建模唯一性,
二、最大值可以替换为均值).

Inputs (properties/value_strategies.py): B from 1 to 4096 (B == A often), A from 1
to 64; V and A at magnitudes from 1e-30 to 1e6 spread per row; advantages with a
greedy action at every column, near-ties of the max (relative gaps 1e-5 to 1e-2,
exact, below float32 resolution), per-row shifts up to 1e3 and logit-like gaps of
1e3; ``mode`` a string built at run time (equal to "mean"/"max", never the interned
literal). Values are judged per row within ``1e-5 * (|V| + 2 max_a |A|) + 8 * 2**-126``.

The head is trained through, so its gradient is part of the contract (torch
implementations): for ``L = sum(w * Q)``, ``dL/dV = sum_a w`` and ``dL/dA = w - mean_a w``
("mean"), or ``w - S p`` with ``S = sum_a w`` and ``p`` a distribution over the actions
tied at the maximum ("max": torch.max's one-hot and amax's even split are both valid
subgradients; ties as in the tie rule of value_strategies).
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, as_cpu_tensor, assert_close
from drlspec.properties.strategies import runtime_string
from drlspec.properties.value_strategies import (
    TINY,
    admissible_actions,
    draw_common,
    greedy_table,
    row_scales,
    signed_uniform,
)

CONTRACT = "dueling_aggregate"

modes = st.sampled_from(["mean", "max"]).flatmap(runtime_string)
_EXTRAS = st.sampled_from(["none", "shift", "logit_gaps", "both"])
_WEIGHT_KINDS = st.sampled_from(["dyadic", "integers", "ones", "one_hot"])


@st.composite
def dueling_inputs(draw: st.DrawFn) -> dict:
    batch, num_actions, dtype, generator = draw_common(draw)
    value = signed_uniform(generator, (batch, 1)) * row_scales(draw, batch, generator)
    table = greedy_table(draw, batch, num_actions, torch.float64, generator)
    advantages = table["values"]
    extra = draw(_EXTRAS)
    if extra in ("logit_gaps", "both"):
        # Like logits: about half the actions 500 to 1000 below the rest. Greedy action
        # and runner-up are spared, so the near-tie stays where it was.
        far = torch.rand(advantages.shape, generator=generator) < 0.5
        if "greedy" in table:
            rows = torch.arange(batch)
            far[rows, table["greedy"]] = False
            far[rows, table["runner_up"]] = False
        depth = 500.0 + 500.0 * torch.rand(
            advantages.shape, generator=generator, dtype=torch.float64
        )
        advantages = torch.where(far, advantages - depth, advantages)
    if extra in ("shift", "both"):
        advantages = advantages + _row_shifts(batch, generator)
    return {"value": value.to(dtype), "advantages": advantages.to(dtype)}


def _row_shifts(batch: int, generator: torch.Generator) -> torch.Tensor:
    """``[B, 1]`` per-row constants, signed, magnitudes log-uniform from 1e-3 to 1e3."""
    exponent = -3.0 + 6.0 * torch.rand(batch, 1, generator=generator, dtype=torch.float64)
    sign = torch.where(torch.rand(batch, 1, generator=generator) < 0.5, -1.0, 1.0)
    return sign * 10.0**exponent


def oracle(value, advantages, mode) -> torch.Tensor:
    """The definition in float64, vectorised over states."""
    a = advantages.double()
    baseline = a.mean(dim=1, keepdim=True) if mode == "mean" else a.max(dim=1, keepdim=True).values
    return value.double() + a - baseline


def tolerance(value, advantages) -> torch.Tensor:
    """``[B, A]`` bound on a float32-accurate result, per row.

    Q is formed from V and two terms of size at most ``max_a |A|``; a float32 mean
    over A <= 64 actions errs by at most ``(A - 1) u max|A| < 4e-6 max|A|``, within
    ``FLOAT32_RTOL = 1e-5`` of ``|V| + 2 max_a |A|``. Below float32's normal range
    rounding is absolute: V, A, the baseline and two sums, at most ``TINY`` each.
    """
    magnitude = (
        value.double().abs() + 2.0 * advantages.double().abs().max(dim=1, keepdim=True).values
    )
    return (FLOAT32_RTOL * magnitude + 8.0 * TINY).expand(advantages.shape)


def _call(impl, inputs: dict, mode: str, device: str):
    return impl(inputs["value"].to(device), inputs["advantages"].to(device), mode)


def _q_values(impl, inputs: dict, mode: str, device: str) -> torch.Tensor:
    q_values = as_cpu_tensor(_call(impl, inputs, mode, device), "Q")
    expected = list(inputs["advantages"].shape)
    if list(q_values.shape) != expected:
        raise AssertionError(f"Q: shape {list(q_values.shape)}, expected {expected}")
    return q_values


@given(inputs=dueling_inputs(), mode=modes)
def test_matches_definition(impl, device, inputs, mode):
    """Equals V + A - mean_a A ("mean") or V + A - max_a A ("max"), state by state."""
    assert_close(
        _call(impl, inputs, mode, device),
        oracle(inputs["value"], inputs["advantages"], mode),
        what=f"dueling_aggregate(mode={mode!r})",
        tolerance=tolerance(inputs["value"], inputs["advantages"]),
    )


def _weights(kind: str, shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """Loss weights ``w`` of ``L = sum(w * Q)``, exact in float32 and in sums over A <= 64."""
    if kind == "ones":
        return torch.ones(shape, dtype=torch.float64)
    if kind == "one_hot":
        # dL/dQ of a TD loss: one taken action per state.
        taken = torch.randint(shape[1], (shape[0],), generator=generator)
        return torch.nn.functional.one_hot(taken, shape[1]).double()
    if kind == "integers":
        return (signed_uniform(generator, shape) * 3.5).round()
    return (signed_uniform(generator, shape) * 256.0).round() / 256.0


def _leaf(x: torch.Tensor, device: str) -> torch.Tensor:
    return x.detach().to(device).requires_grad_(True)


@given(
    inputs=dueling_inputs(),
    mode=modes,
    kind=_WEIGHT_KINDS,
    seed=st.integers(0, 2**32 - 1),
)
def test_gradient_matches_definition(impl, device, backend, inputs, mode, kind, seed):
    """The gradient of sum(w * Q) w.r.t. V and A is the centred head's (any max subgradient).

    ``dL/dV = S`` with ``S = sum_a w``; ``dL/dA = w - S / A`` ("mean"); ``dL/dA = w - S p``
    with ``p >= 0``, ``sum p = 1``, ``p`` zero off the actions tied at the max ("max").
    Tolerance per row ``1e-5 * sum_a |w|``: the weights are exact in float32 and in
    their sums, so only ``S / A`` and float32 summation round.
    A numpy implementation has no autograd: for it, this property checks Q only.
    """
    shape = tuple(inputs["advantages"].shape)
    weights = _weights(kind, shape, torch.Generator().manual_seed(seed))
    value = _leaf(inputs["value"], device)
    advantages = _leaf(inputs["advantages"], device)
    q_values = impl(value, advantages, mode)
    if backend == "numpy":
        assert_close(
            q_values,
            oracle(inputs["value"], inputs["advantages"], mode),
            what=f"dueling_aggregate(mode={mode!r})",
            tolerance=tolerance(inputs["value"], inputs["advantages"]),
        )
        return
    if not isinstance(q_values, torch.Tensor) or list(q_values.shape) != list(shape):
        raise AssertionError(f"Q: expected a tensor of shape {list(shape)}, got {q_values!r:.80}")
    if not q_values.requires_grad:
        raise AssertionError("Q carries no gradient: the dueling head cannot be trained through it")
    (q_values * weights.to(q_values.device, q_values.dtype)).sum().backward()
    if value.grad is None or advantages.grad is None:
        missing = [n for n, t in (("value", value), ("advantages", advantages)) if t.grad is None]
        raise AssertionError(f"no gradient reaches {missing} (mode={mode!r})")
    grad_value = value.grad.detach().to("cpu", torch.float64)
    grad_advantages = advantages.grad.detach().to("cpu", torch.float64)
    row_sums = weights.sum(dim=1, keepdim=True)
    bound = FLOAT32_RTOL * weights.abs().sum(dim=1, keepdim=True) + TINY
    assert_close(
        grad_value,
        row_sums,
        what=f"dL/dV (mode={mode!r}): sum over actions of w",
        tolerance=bound,
    )
    if mode == "mean":
        assert_close(
            grad_advantages,
            weights - row_sums / shape[1],
            what="dL/dA (mode='mean'): w - mean_a w",
            tolerance=bound.expand(shape),
        )
        return
    _assert_max_subgradient(weights - grad_advantages, row_sums, inputs["advantages"], bound)


def _assert_max_subgradient(
    baseline_grad: torch.Tensor,
    row_sums: torch.Tensor,
    advantages: torch.Tensor,
    bound: torch.Tensor,
) -> None:
    """``baseline_grad = w - dL/dA`` is ``S p`` for a distribution ``p`` over the tied maxima."""
    tied = admissible_actions(advantages)
    off_max = (baseline_grad.abs() > bound) & ~tied
    if bool(off_max.any()):
        row, action = (int(i) for i in off_max.nonzero()[0])
        raise AssertionError(
            f"dL/dA (mode='max'): at [{row}, {action}], which is not a maximal action "
            f"(A = {advantages[row, action].item()!r}, max {advantages[row].max().item()!r}), "
            f"the max baseline's gradient is {-baseline_grad[row, action].item()!r}, expected 0"
        )
    mass = (baseline_grad * tied).sum(dim=1, keepdim=True)
    count = tied.sum(dim=1, keepdim=True)
    wrong_mass = (mass - row_sums).abs() > bound * count
    wrong_sign = ((baseline_grad * row_sums.sign() < -bound) & tied).any(dim=1, keepdim=True)
    bad = wrong_mass | wrong_sign
    if bool(bad.any()):
        row = int(bad.nonzero()[0, 0])
        actions = tied[row].nonzero()[:, 0].tolist()
        raise AssertionError(
            f"dL/dA (mode='max'), row {row}: the max baseline passes "
            f"{(-baseline_grad[row, actions]).tolist()[:8]} to the maximal action(s) "
            f"{actions[:8]}; expected -S p with S = sum_a w = {row_sums[row, 0].item()!r} "
            f"and p a distribution over them (torch.max: all to one; amax: split evenly)"
        )


@given(inputs=dueling_inputs(), mode=runtime_string("mean"))
def test_mean_mode_averages_to_value(impl, device, inputs, mode):
    """With mode="mean", the mean over actions of Q equals V."""
    q_values = _q_values(impl, inputs, mode, device)
    assert_close(
        q_values.mean(dim=1, keepdim=True),
        inputs["value"].double(),
        what="mean over actions of Q (mode='mean')",
        tolerance=tolerance(inputs["value"], inputs["advantages"])[:, :1],
    )


@given(inputs=dueling_inputs(), mode=runtime_string("max"))
def test_max_mode_greedy_value_is_value(impl, device, inputs, mode):
    """With mode="max", the greedy action's Q equals V."""
    q_values = _q_values(impl, inputs, mode, device)
    assert_close(
        q_values.max(dim=1, keepdim=True).values,
        inputs["value"].double(),
        what="max over actions of Q (mode='max')",
        tolerance=tolerance(inputs["value"], inputs["advantages"])[:, :1],
    )


@given(inputs=dueling_inputs(), mode=modes, seed=st.integers(0, 2**32 - 1))
def test_per_state_constant_in_advantages_cancels(impl, device, inputs, mode, seed):
    """Adding a constant per state to A (up to 1e3, its own per row) leaves Q unchanged."""
    batch = inputs["advantages"].shape[0]
    offsets = _row_shifts(batch, torch.Generator().manual_seed(seed))
    shifted = dict(
        inputs, advantages=(inputs["advantages"].double() + offsets).to(inputs["advantages"].dtype)
    )
    # The shifted advantages are rounded in their dtype: judged at the shifted scale.
    bound = torch.maximum(
        tolerance(inputs["value"], inputs["advantages"]),
        tolerance(shifted["value"], shifted["advantages"]),
    )
    assert_close(
        _call(impl, shifted, mode, device),
        oracle(inputs["value"], inputs["advantages"], mode),
        what=f"Q after adding a per-state constant to A (mode={mode!r})",
        tolerance=bound,
    )


@given(inputs=dueling_inputs(), mode=modes)
def test_action_differences_are_advantage_differences(impl, device, inputs, mode):
    """Q(s, a) - Q(s, b) = A(s, a) - A(s, b): centering never reorders or rescales actions."""
    q_values = _q_values(impl, inputs, mode, device)
    advantages = inputs["advantages"].double()
    assert_close(
        q_values - q_values[:, :1],
        advantages - advantages[:, :1],
        what=f"Q(s, a) - Q(s, 0) (mode={mode!r})",
        # A difference of two entries of Q, each within the tolerance.
        tolerance=2.0 * tolerance(inputs["value"], inputs["advantages"]),
    )
