"""Properties of ``double_dqn_target``: the online network selects, the target network evaluates.

``r + gamma * (1 - terminated) * Q_target(s', argmax_a Q_online(s', a))``.

Spec: Value-based. Seed: :four: Double DQN.

Tie rule: the admissible selections of a row are the actions whose ``Q_online`` lies
within ``2**-23 * |max_a Q_online|`` of the maximum (exact ties, and gaps that rounding
to float32 may merge; see properties/value_strategies.py); the target of any of them
is correct. A relative gap of 1e-5 or more must be resolved exactly. In the near-tie
property (and in half the other examples) every row has a runner-up action below the
greedy one at a relative gap of 1e-5 to 1e-2, of exactly 0, or below float32 resolution.

Inputs: B from 1 to 4096 (B == A often), A from 1 to 64, rewards, Q_online and
Q_target at magnitudes from 1e-30 to 1e6 spread per row, the greedy action at every
column, gamma over the whole of [0, 1]. Each element is judged at its own scale,
``1e-5 * (|r| + gamma * M) + 2**-126 * (4 + M)`` with ``M = max_a |Q_target|``.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.assertions import as_cpu_tensor, assert_close
from drlspec.properties.strategies import discounts
from drlspec.properties.value_strategies import (
    admissible_actions,
    draw_common,
    flag_tensor,
    greedy_table,
    row_scales,
    target_tolerance,
)

CONTRACT = "double_dqn_target"


@st.composite
def double_inputs(draw: st.DrawFn, online_structure: str | None = None) -> dict:
    batch, num_actions, dtype, generator = draw_common(draw)
    reward_scale = row_scales(draw, batch, generator)[:, 0]
    rewards = 2.0 * torch.rand(batch, generator=generator, dtype=torch.float64) - 1.0
    online = greedy_table(draw, batch, num_actions, dtype, generator, online_structure)
    target = greedy_table(draw, batch, num_actions, dtype, generator)
    return {
        "rewards": (rewards * reward_scale).to(dtype),
        "next_q_online": online["values"],
        "next_q_target": target["values"],
        "terminated": flag_tensor(draw, batch, generator),
        "gamma": draw(discounts),
        # Not arguments: where the online network's greedy action and runner-up are.
        "greedy": online.get("greedy"),
        "runner_up": online.get("runner_up"),
    }


ARGUMENTS = ("rewards", "next_q_online", "next_q_target", "terminated", "gamma")


def _arguments(inputs: dict) -> dict:
    return {name: inputs[name] for name in ARGUMENTS}


def _call(impl, inputs: dict, device: str):
    return impl(
        inputs["rewards"].to(device),
        inputs["next_q_online"].to(device),
        inputs["next_q_target"].to(device),
        inputs["terminated"].to(device),
        inputs["gamma"],
    )


def candidate_targets(rewards, next_q_online, next_q_target, terminated, gamma):
    """``[B, A]`` float64: the target of every action, and which actions may be selected."""
    alive = 1.0 - terminated.double()
    targets = rewards.double()[:, None] + gamma * alive[:, None] * next_q_target.double()
    return targets, admissible_actions(next_q_online)


def _assert_admissible(result, inputs: dict, what: str) -> None:
    """Each element is the target of an admissible action, within its row's tolerance."""
    result = as_cpu_tensor(result, what)
    batch = inputs["rewards"].shape[0]
    if result.shape != (batch,):
        raise AssertionError(f"{what}: shape {list(result.shape)}, expected [{batch}]")
    targets, admissible = candidate_targets(**_arguments(inputs))
    tolerance = target_tolerance(
        inputs["rewards"], inputs["next_q_target"], inputs["terminated"], inputs["gamma"]
    )
    close = (result[:, None] - targets).abs() <= tolerance[:, None]
    wrong = ~(close & admissible).any(dim=1)
    if bool(wrong.any()):
        row = int(wrong.nonzero()[0])
        allowed = targets[row][admissible[row]].tolist()
        actions = admissible[row].nonzero()[:, 0].tolist()
        chosen = close[row].nonzero()[:, 0].tolist()
        online = inputs["next_q_online"][row].double()
        if chosen:
            matches = (
                f"the value matches action(s) {chosen[:8]}, whose Q_online is "
                f"{online[chosen[:8]].tolist()}"
            )
        else:
            matches = "the value is no action's target (a sum or mean over actions?)"
        raise AssertionError(
            f"{what}: element [b={row}] is {result[row].item()!r}, expected one of "
            f"{allowed[:8]} (Q_target at the action(s) {actions[:8]} "
            f"maximising Q_online, max {online.max().item()!r}; tolerance "
            f"{tolerance[row].item():.3g}); {matches}"
        )


@given(inputs=double_inputs())
def test_matches_definition(impl, device, inputs):
    """Equals r + gamma * (1 - terminated) * Q_target(s', a*) with a* maximising Q_online."""
    _assert_admissible(_call(impl, inputs, device), inputs, "double_dqn_target")


@given(inputs=double_inputs(online_structure="near_tie"))
def test_near_ties_resolved_by_online_values(impl, device, inputs):
    """A runner-up 1e-5 to 1e-2 (relative) below the greedy action is not selected.

    The target network rates the online network's greedy action worst and its
    runner-up best, so that selecting by Q_target, by Q_online + Q_target, or by a
    half-precision copy of Q_online (which merges gaps below 2**-11) moves the target
    by the full spread of Q_target.
    """
    target = inputs["next_q_target"].double().clone()
    rows = torch.arange(target.shape[0])
    spread = target.abs().max(dim=1).values + 1.0
    target[rows, inputs["runner_up"]] = spread
    target[rows, inputs["greedy"]] = -spread
    inputs = dict(inputs, next_q_target=target.to(inputs["next_q_target"].dtype))
    _assert_admissible(_call(impl, inputs, device), inputs, "target at a near-tie of Q_online")


@given(inputs=double_inputs(), data=st.data())
def test_online_network_selects(impl, device, inputs, data):
    """When the networks disagree far apart, the online network's choice is evaluated."""
    online, target = inputs["next_q_online"].clone(), inputs["next_q_target"].clone()
    batch, num_actions = online.shape
    generator = torch.Generator().manual_seed(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    chosen = torch.randint(num_actions, (batch,), generator=generator)
    rows = torch.arange(batch)
    sure = online.abs().max() * 2.0 + 1000.0
    online[rows, chosen] = sure  # the online network is sure of `chosen`
    target[rows, chosen] = -(target.abs().max() * 2.0 + 1000.0)  # the target network: worst
    inputs = dict(inputs, next_q_online=online, next_q_target=target)
    _assert_admissible(_call(impl, inputs, device), inputs, "target when the networks disagree")


@given(inputs=double_inputs(), factor=st.sampled_from([2.0, 4.0, 8.0, 1024.0]))
def test_online_values_only_select(impl, device, inputs, factor):
    """Scaling Q_online by a power of two changes nothing: it only picks the action.

    The scaling is exact in floating point (the inputs stay far from overflow), so
    every ordering and every tie of Q_online survives it, and so does the set of
    admissible targets.
    """
    scaled = dict(inputs, next_q_online=inputs["next_q_online"] * factor)
    _assert_admissible(_call(impl, scaled, device), inputs, "target after scaling Q_online")


def _dqn(inputs: dict) -> torch.Tensor:
    alive = 1.0 - inputs["terminated"].double()
    best = inputs["next_q_target"].double().max(dim=1).values
    return inputs["rewards"].double() + inputs["gamma"] * alive * best


@given(inputs=double_inputs())
def test_never_exceeds_dqn_target(impl, device, inputs):
    """Never above r + gamma * (1 - terminated) * max_a Q_target(s', a)."""
    result = as_cpu_tensor(_call(impl, inputs, device), "double_dqn_target")
    dqn = _dqn(inputs)
    if result.shape != dqn.shape:
        raise AssertionError(
            f"double_dqn_target: shape {list(result.shape)}, expected {list(dqn.shape)}"
        )
    tolerance = target_tolerance(
        inputs["rewards"], inputs["next_q_target"], inputs["terminated"], inputs["gamma"]
    )
    excess = (result - dqn) / tolerance
    if not bool((excess <= 1.0).all()):
        row = int(torch.nan_to_num(excess, nan=float("inf")).argmax())
        raise AssertionError(
            f"double_dqn_target: element [b={row}] is {result[row].item()!r}, above the DQN "
            f"target {dqn[row].item()!r} built from the same next_q_target "
            f"(tolerance {tolerance[row].item():.3g})"
        )


@given(inputs=double_inputs())
def test_same_network_is_dqn(impl, device, inputs):
    """When online and target networks agree, the double target is the DQN target."""
    same = dict(inputs, next_q_online=inputs["next_q_target"])
    tolerance = target_tolerance(
        inputs["rewards"], inputs["next_q_target"], inputs["terminated"], inputs["gamma"]
    )
    # A float32 selection may pick a near-tied action: Q_target there is within 2**-23
    # relative of the max, far inside the tolerance.
    assert_close(
        _call(impl, same, device),
        _dqn(inputs),
        what="target with identical networks",
        tolerance=tolerance,
    )
