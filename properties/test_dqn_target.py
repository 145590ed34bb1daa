"""Properties of ``dqn_target``: ``r + gamma * (1 - terminated) * max_a Q_target(s', a)``.

Spec: Value-based. Seed: 1、DQN / 损失函数设计, 目标网络.

Inputs (properties/value_strategies.py): B from 1 to 4096 (B == A often), A from 1
to 64, rewards and Q_target at magnitudes from 1e-30 to 1e6 spread per row, the greedy
action at every column, near-ties of the max, gamma over the whole of [0, 1]. Each
element is judged at its own scale: ``1e-5 * (|r| + gamma * M) + 2**-126 * (4 + M)``
with ``M = max_a |Q_target|`` (properties/value_strategies.py:target_tolerance).
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.assertions import assert_close
from drlspec.properties.strategies import discounts
from drlspec.properties.value_strategies import (
    draw_common,
    flag_tensor,
    greedy_table,
    row_scales,
    target_tolerance,
)

CONTRACT = "dqn_target"


@st.composite
def dqn_inputs(draw: st.DrawFn) -> dict:
    batch, num_actions, dtype, generator = draw_common(draw)
    reward_scale = row_scales(draw, batch, generator)[:, 0]
    rewards = (
        2.0 * torch.rand(batch, generator=generator, dtype=torch.float64) - 1.0
    ) * reward_scale
    return {
        "rewards": rewards.to(dtype),
        "next_q_target": greedy_table(draw, batch, num_actions, dtype, generator)["values"],
        "terminated": flag_tensor(draw, batch, generator),
        "gamma": draw(discounts),
    }


def oracle(rewards, next_q_target, terminated, gamma) -> torch.Tensor:
    """The definition in float64, vectorised over transitions."""
    alive = 1.0 - terminated.double()
    return rewards.double() + gamma * alive * next_q_target.double().max(dim=1).values


def _tolerance(inputs: dict) -> torch.Tensor:
    return target_tolerance(
        inputs["rewards"], inputs["next_q_target"], inputs["terminated"], inputs["gamma"]
    )


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
        _call(impl, inputs, device),
        oracle(**inputs),
        what="dqn_target",
        tolerance=_tolerance(inputs),
    )


@given(inputs=dqn_inputs(), seed=st.integers(0, 2**32 - 1))
def test_invariant_to_action_order(impl, device, inputs, seed):
    """Permuting each row's actions (its own permutation) leaves the target unchanged."""
    q_values = inputs["next_q_target"]
    generator = torch.Generator().manual_seed(seed)
    order = torch.rand(q_values.shape, generator=generator).argsort(dim=1)
    permuted = dict(inputs, next_q_target=q_values.gather(1, order))
    assert_close(
        _call(impl, permuted, device),
        oracle(**inputs),
        what="target after permuting each row's actions",
        tolerance=_tolerance(inputs),
    )


@given(inputs=dqn_inputs(), data=st.data())
def test_rows_are_independent(impl, device, inputs, data):
    """Changing one transition's next-state values changes no other transition's target."""
    batch = inputs["rewards"].shape[0]
    row = data.draw(st.integers(0, batch - 1), label="changed row")
    changed = inputs["next_q_target"].clone()
    changed[row] = -2.0 * changed[row] + 1000.0
    after = _call(impl, dict(inputs, next_q_target=changed), device)
    # Row `row` is judged against its own new definition; every other row against the old one.
    expected = oracle(**inputs)
    expected[row] = oracle(**dict(inputs, next_q_target=changed))[row]
    tolerance = torch.maximum(_tolerance(inputs), _tolerance(dict(inputs, next_q_target=changed)))
    assert_close(
        after,
        expected,
        what=f"targets after changing row {row}'s next-state values",
        tolerance=tolerance,
    )


@given(inputs=dqn_inputs())
def test_terminal_target_is_reward(impl, device, inputs):
    """With every transition terminated, the target is the reward, whatever Q_target says."""
    terminated = torch.ones_like(inputs["terminated"])
    done = dict(inputs, terminated=terminated)
    assert_close(
        _call(impl, done, device),
        inputs["rewards"].double(),
        what="target of terminated transitions",
        tolerance=_tolerance(done),
    )
