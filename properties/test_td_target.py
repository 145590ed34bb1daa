"""Properties of ``td_target``: ``r + gamma * (1 - terminated) * V(s')``.

Spec: Returns and advantages. Seed: 1、DQN / 损失函数设计.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import assert_close
from properties.strategies import batch_sizes, discounts, flags, float_dtypes, real_tensors

CONTRACT = "td_target"


@st.composite
def td_inputs(draw: st.DrawFn) -> dict:
    batch = draw(batch_sizes)
    dtype = draw(float_dtypes)
    return {
        "rewards": draw(real_tensors((batch,), dtype)),
        "next_values": draw(real_tensors((batch,), dtype)),
        "terminated": draw(flags((batch,))),
        "gamma": draw(discounts),
    }


def oracle(rewards, next_values, terminated, gamma) -> torch.Tensor:
    """The definition, one transition at a time, in float64."""
    targets = []
    for reward, next_value, done in zip(
        rewards.tolist(), next_values.tolist(), terminated.tolist(), strict=True
    ):
        targets.append(reward if done else reward + gamma * next_value)
    return torch.tensor(targets, dtype=torch.float64)


def _scale(inputs: dict) -> float:
    return float(inputs["rewards"].abs().max() + inputs["next_values"].abs().max())


def _call(impl, inputs: dict, device: str):
    return impl(
        inputs["rewards"].to(device),
        inputs["next_values"].to(device),
        inputs["terminated"].to(device),
        inputs["gamma"],
    )


@given(inputs=td_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals r + gamma * (1 - terminated) * V(s'), computed transition by transition."""
    assert_close(
        _call(impl, inputs, device), oracle(**inputs), what="td_target", scale=_scale(inputs)
    )


@given(inputs=td_inputs(), shift=st.floats(1.0, 100.0))
def test_terminated_never_bootstraps(impl, device, inputs, shift):
    """Where terminated, the target is the reward alone, whatever V(s') is."""
    terminated = inputs["terminated"].bool()
    moved = dict(inputs, next_values=inputs["next_values"] + shift * terminated)
    before = _call(impl, inputs, device)
    after = _call(impl, moved, device)
    assert_close(
        after[terminated.to(after.device)],
        inputs["rewards"][terminated].double(),
        what="target at terminated steps (must equal the reward)",
        scale=_scale(moved),
    )
    assert_close(
        after, before, what="target after changing V(s') at terminated steps", scale=_scale(moved)
    )


@given(inputs=td_inputs(), shift=st.floats(1.0, 100.0))
def test_nonterminal_bootstraps_with_gamma(impl, device, inputs, shift):
    """Where not terminated, raising V(s') by c raises the target by gamma * c."""
    alive = ~inputs["terminated"].bool()
    moved = dict(inputs, next_values=inputs["next_values"] + shift * alive)
    before = _call(impl, inputs, device)
    after = _call(impl, moved, device)
    expected_change = inputs["gamma"] * shift * alive.double()
    assert_close(
        torch.as_tensor(after).double().cpu() - torch.as_tensor(before).double().cpu(),
        expected_change,
        what="change of the target when V(s') rises at non-terminal steps",
        scale=_scale(moved),
    )


@given(inputs=td_inputs())
def test_flag_dtypes_agree(impl, device, inputs):
    """Bool flags and 0/1 float flags mean the same thing."""
    as_bool = _call(impl, dict(inputs, terminated=inputs["terminated"].bool()), device)
    as_float = _call(impl, dict(inputs, terminated=inputs["terminated"].double()), device)
    assert_close(
        as_float,
        torch.as_tensor(as_bool),
        what="float-flag vs bool-flag target",
        scale=_scale(inputs),
    )
