"""Properties of ``dueling_aggregate``: ``Q = V + A - mean_a A`` or ``Q = V + A - max_a A``.

Spec: Value-based. Seed: :five: Dueling DQN (一、减去最大值能确保建模唯一性,
二、最大值可以替换为均值).
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import as_cpu_tensor, assert_close
from properties.strategies import action_counts, batch_sizes, float_dtypes, real_tensors

CONTRACT = "dueling_aggregate"

modes = st.sampled_from(["mean", "max"])


@st.composite
def dueling_inputs(draw: st.DrawFn) -> dict:
    batch, num_actions = draw(batch_sizes), draw(action_counts)
    dtype = draw(float_dtypes)
    return {
        "value": draw(real_tensors((batch, 1), dtype)),
        "advantages": draw(real_tensors((batch, num_actions), dtype)),
    }


def oracle(value, advantages, mode) -> torch.Tensor:
    """The definition, one state at a time, in float64."""
    rows = []
    for (v,), row in zip(value.tolist(), advantages.tolist(), strict=True):
        baseline = sum(row) / len(row) if mode == "mean" else max(row)
        rows.append([v + a - baseline for a in row])
    return torch.tensor(rows, dtype=torch.float64)


def _scale(inputs: dict) -> float:
    return float(inputs["value"].abs().max() + 2 * inputs["advantages"].abs().max())


def _call(impl, inputs: dict, mode: str, device: str):
    return impl(inputs["value"].to(device), inputs["advantages"].to(device), mode)


@given(inputs=dueling_inputs(), mode=modes)
def test_matches_definition(impl, device, inputs, mode):
    """Equals V + A - mean_a A ("mean") or V + A - max_a A ("max"), state by state."""
    assert_close(
        _call(impl, inputs, mode, device),
        oracle(inputs["value"], inputs["advantages"], mode),
        what=f"dueling_aggregate(mode={mode!r})",
        scale=_scale(inputs),
    )


@given(inputs=dueling_inputs())
def test_mean_mode_averages_to_value(impl, device, inputs):
    """With mode="mean", the mean over actions of Q equals V."""
    q_values = as_cpu_tensor(_call(impl, inputs, "mean", device), "Q")
    if q_values.dim() != 2:
        raise AssertionError(f"Q: expected shape [B, A], got {list(q_values.shape)}")
    assert_close(
        q_values.mean(dim=1, keepdim=True),
        inputs["value"].double(),
        what="mean over actions of Q (mode='mean')",
        scale=_scale(inputs),
    )


@given(inputs=dueling_inputs())
def test_max_mode_greedy_value_is_value(impl, device, inputs):
    """With mode="max", the greedy action's Q equals V."""
    q_values = as_cpu_tensor(_call(impl, inputs, "max", device), "Q")
    if q_values.dim() != 2:
        raise AssertionError(f"Q: expected shape [B, A], got {list(q_values.shape)}")
    assert_close(
        q_values.max(dim=1, keepdim=True).values,
        inputs["value"].double(),
        what="max over actions of Q (mode='max')",
        scale=_scale(inputs),
    )


@given(inputs=dueling_inputs(), mode=modes, data=st.data())
def test_per_state_constant_in_advantages_cancels(impl, device, inputs, mode, data):
    """Adding a constant per state to A leaves Q unchanged."""
    batch = inputs["advantages"].shape[0]
    offsets = data.draw(
        real_tensors((batch, 1), inputs["advantages"].dtype, bound=50.0), label="offsets"
    )
    shifted = dict(inputs, advantages=inputs["advantages"] + offsets)
    assert_close(
        _call(impl, shifted, mode, device),
        oracle(inputs["value"], inputs["advantages"], mode),
        what=f"Q after adding a per-state constant to A (mode={mode!r})",
        scale=_scale(inputs) + 100.0,
    )


@given(inputs=dueling_inputs(), mode=modes)
def test_action_differences_are_advantage_differences(impl, device, inputs, mode):
    """Q(s, a) - Q(s, b) = A(s, a) - A(s, b): centering never reorders or rescales actions."""
    q_values = as_cpu_tensor(_call(impl, inputs, mode, device), "Q")
    advantages = inputs["advantages"].double()
    if q_values.shape != advantages.shape:
        raise AssertionError(f"Q: shape {list(q_values.shape)}, expected {list(advantages.shape)}")
    assert_close(
        q_values - q_values[:, :1],
        advantages - advantages[:, :1],
        what=f"Q(s, a) - Q(s, 0) (mode={mode!r})",
        scale=_scale(inputs),
    )
