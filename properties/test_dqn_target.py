"""Properties of ``dqn_target``: ``r + gamma * (1 - terminated) * max_a Q_target(s', a)``.

Spec: Value-based. Seed: 1、DQN / 损失函数设计, 目标网络.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from properties.assertions import assert_close
from properties.strategies import (
    action_counts,
    batch_sizes,
    discounts,
    flags,
    float_dtypes,
    real_tensors,
)

CONTRACT = "dqn_target"


@st.composite
def dqn_inputs(draw: st.DrawFn) -> dict:
    batch, num_actions = draw(batch_sizes), draw(action_counts)
    dtype = draw(float_dtypes)
    return {
        "rewards": draw(real_tensors((batch,), dtype)),
        "next_q_target": draw(real_tensors((batch, num_actions), dtype)),
        "terminated": draw(flags((batch,))),
        "gamma": draw(discounts),
    }


def oracle(rewards, next_q_target, terminated, gamma) -> torch.Tensor:
    """The definition, one transition at a time, in float64."""
    targets = []
    for reward, q_row, done in zip(
        rewards.tolist(), next_q_target.tolist(), terminated.tolist(), strict=True
    ):
        targets.append(reward if done else reward + gamma * max(q_row))
    return torch.tensor(targets, dtype=torch.float64)


def _scale(inputs: dict) -> float:
    return float(inputs["rewards"].abs().max() + inputs["next_q_target"].abs().max())


def _call(impl, inputs: dict, device: str):
    return impl(
        inputs["rewards"].to(device),
        inputs["next_q_target"].to(device),
        inputs["terminated"].to(device),
        inputs["gamma"],
    )


@given(inputs=dqn_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals r + gamma * (1 - terminated) * max_a Q_target(s', a), transition by transition."""
    assert_close(
        _call(impl, inputs, device), oracle(**inputs), what="dqn_target", scale=_scale(inputs)
    )


@given(inputs=dqn_inputs(), data=st.data())
def test_invariant_to_action_order(impl, device, inputs, data):
    """Permuting the actions of next_q_target leaves the target unchanged (a max, not an index)."""
    num_actions = inputs["next_q_target"].shape[1]
    order = data.draw(st.permutations(range(num_actions)), label="action order")
    permuted = dict(inputs, next_q_target=inputs["next_q_target"][:, list(order)])
    assert_close(
        _call(impl, permuted, device),
        oracle(**inputs),
        what="target after permuting the actions",
        scale=_scale(inputs),
    )


@given(inputs=dqn_inputs(), data=st.data())
def test_rows_are_independent(impl, device, inputs, data):
    """Changing one transition's next-state values changes no other transition's target."""
    batch = inputs["rewards"].shape[0]
    row = data.draw(st.integers(0, batch - 1), label="changed row")
    changed = inputs["next_q_target"].clone()
    changed[row] += 1000.0
    before = torch.as_tensor(_call(impl, inputs, device)).double().cpu()
    after = torch.as_tensor(_call(impl, dict(inputs, next_q_target=changed), device))
    others = [i for i in range(batch) if i != row]
    assert_close(
        after.double().cpu()[others],
        before[others],
        what=f"targets of other transitions after changing row {row}",
        scale=_scale(inputs) + 1000.0,
    )


@given(inputs=dqn_inputs())
def test_terminal_target_is_reward(impl, device, inputs):
    """With every transition terminated, the target is the reward, whatever Q_target says."""
    terminated = torch.ones_like(inputs["terminated"])
    result = _call(impl, dict(inputs, terminated=terminated), device)
    assert_close(
        result,
        inputs["rewards"].double(),
        what="target of terminated transitions",
        scale=_scale(inputs),
    )
